"""Task-scaling study (beyond the paper): accuracy and head size as the number of tasks ``T`` grows
under the capacity-matched design of Theorem 1, Eqs. (12)-(14).

For every ``T`` the heads are sized as in §4.2: ``S = 2`` qubits per task (``S_t = S``), ``Q = S·T``
(Eq. (13)), ``L`` encoder layers, ``d = Q·L = S·T·L`` (Eqs. (12), (14)) and ``L_h`` task layers. One shared
trainable ``Linear(n_features → d) → tanh`` feeds one of three heads:

* ``classical`` — :class:`~qmtl_utils.models.heads.ClassicalHeads`, ``P_C = Σ_t r_t (d + 1)`` (Eq. (8); Eq. (15)
  for equal ``r``), quadratic in ``T``;
* ``qmtl`` — :class:`~qmtl_utils.models.heads.QMTLHead`, ``P_Q = S T (L + k_θ L_h)`` (Eq. (16)) plus one
  learnable logit scale per task when ``output_scale`` is on, linear in ``T``;
* ``hqnn4`` — :class:`~qmtl_utils.models.heads.HQNNHead` on 4 qubits (Appendix B closed form).

Binary tasks read ``⟨Z_0⟩`` of their two qubits (``default_observables(1, 2) == ("ZI",)``: the second
qubit is still acted on by the task block, it just has no observable of its own); 3-class tasks read
``(ZI, IZ, XX)`` (Eq. (4)).

The QMTL head runs on ``backend="fast"`` while ``Q <= fast_max_qubits`` and on ``"mps"`` (exact
matrix-product-state simulation, same numbers) beyond; every run records the backend it used.
:func:`run_scaling` caches one entry per (T, variant, seed) (stage ``scaling_run``), so an
interrupted sweep resumes where it stopped, then writes the tidy tables (stage ``scaling_results``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm
from torch import nn

from qmtl_utils.models.factory import make_head_for_config
from qmtl_utils.models.params import capacity_matched_qmtl, classical_head_params, count_trainable, hqnn_head_params
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.quantum.observables import default_observables
from qmtl_utils.runtime import executor
from qmtl_utils.runtime.cache import Cache, Entry, write_csv, write_json
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.runtime.seeding import seed_everything
from qmtl_utils.training.common import MultiTaskModel, Progress, parallel_epoch
from qmtl_utils.training.losses import multitask_loss
from qmtl_utils.training.metrics import accuracy_macro_f1, majority_accuracy, predicted_classes

VARIANTS = ("classical", "hqnn4", "qmtl")
RUN_STAGE, RESULTS_STAGE = "scaling_run", "scaling_results"
RUN_COLUMNS = (
    "T",
    "variant",
    "seed",
    "Q",
    "d",
    "head_params",
    "closed_form_params",
    "closed_form",
    "accuracy",
    "macro_f1",
    "majority_accuracy",
    "epoch_s",
    "train_s",
    "backend",
)
BINARY_WORDS, MULTICLASS_WORDS = default_observables(1, 2), default_observables(3, 2)  # ("ZI",), ("ZI","IZ","XX")


@dataclass(frozen=True)
class ScalingSettings:
    """Everything a scaling sweep depends on; ``tasks``, ``seeds`` and ``variants`` choose the runs,
    the other fields are part of every run's cache key."""

    tasks: tuple[int, ...] = (2, 4, 8, 16)
    seeds: tuple[int, ...] = (0, 1)
    variants: tuple[str, ...] = VARIANTS
    # data (see make_task_family)
    n_features: int = 32
    n_latent: int = 8
    input_noise: float = 0.5
    label_noise: float = 0.3
    n_train: int = 512
    n_test: int = 512
    # architecture, Eqs. (12)-(14)
    task_qubits: int = 2  # S
    n_layers: int = 3  # L
    head_layers: int = 1  # L_h
    hqnn_qubits: int = 4
    output_scale: bool = True  # learnable logit scale per task (Appendix B.2)
    # training
    epochs: int = 15
    batch_size: int = 64
    lr: float = 0.02
    fast_max_qubits: int = 8  # QMTL backend: "fast" up to this Q, "mps" beyond
    num_threads: int | None = 1  # torch CPU threads during the sweep (None: leave torch's setting)

    def run_settings(self) -> dict:
        """The fields that define one run (everything but the sweep lists, backend rule and threads)."""
        skip = {"tasks", "seeds", "variants", "fast_max_qubits", "num_threads"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


def coerce(settings: ScalingSettings | dict | None) -> ScalingSettings:
    """``settings`` as :class:`ScalingSettings`: an instance, a dict of fields (a profile's
    ``task_scaling`` section, :mod:`qmtl_utils.runtime.profiles`), or None for the defaults."""
    if settings is None:
        return ScalingSettings()
    if isinstance(settings, ScalingSettings):
        return settings
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
    unknown = set(fields) - {f.name for f in dataclasses.fields(ScalingSettings)}
    if unknown:
        raise ValueError(f"unknown task-scaling setting(s) {sorted(unknown)}")
    return ScalingSettings(**fields)


# --------------------------------------------------------------------------- data


@dataclass
class TaskFamily:
    """A multi-task data set: ``x`` float32 ``(N, n_features)``, ``y`` int64 ``(N, T)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task_outputs: tuple[int, ...]  # r_t: 1 (binary) or 3 (3-class)

    @property
    def n_classes(self) -> tuple[int, ...]:
        return tuple(2 if r == 1 else r for r in self.task_outputs)


def task_outputs(n_tasks: int) -> tuple[int, ...]:
    """``r_t`` of the family: even ``t`` binary (1 logit), odd ``t`` 3-class (3 logits)."""
    return tuple(1 if t % 2 == 0 else 3 for t in range(n_tasks))


def make_task_family(
    n_tasks: int,
    seed: int,
    n_train: int = 512,
    n_test: int = 512,
    n_features: int = 32,
    n_latent: int = 8,
    input_noise: float = 0.5,
    label_noise: float = 0.3,
) -> TaskFamily:
    """Seeded family of ``T`` related tasks on shared inputs.

    Generative process (``k = n_latent``, ``p = n_features``, ``N = n_train + n_test``):

    1. shared latent ``u_i ~ N(0, I_k)``; fixed mixing ``A ∈ R^{k×p}`` with ``A_jl ~ N(0, 1/k)``;
       inputs ``x_i = u_i A + input_noise · ε_i``, ``ε_i ~ N(0, I_p)``;
    2. task ``t`` draws its own unit direction ``w_t ∈ R^k`` (random, so tasks share the latent
       space without being identical) and scores ``s_it = u_i·w_t + label_noise · η_it``,
       ``η ~ N(0, 1)``, so ``s_t ~ N(0, 1 + label_noise²)``;
    3. even ``t``: binary label ``1[s_it > 0]``; odd ``t``: 3 classes cut at the terciles of
       ``s_t``'s distribution (balanced classes); labels are in ``0..n_classes-1``.

    The first ``n_train`` rows are the training split. The inputs and the latent depend on ``seed``
    only and task ``t``'s rule on ``(seed, t)`` only, so the tasks of a smaller ``T`` are the first
    tasks of a larger one; everything is deterministic given ``(T, seed)``.

    Taught in: 04a_task_scaling_and_shots, "A family of tasks with a dial"
    """
    n = n_train + n_test
    rng = np.random.default_rng([seed, 0])
    u = rng.standard_normal((n, n_latent))
    mixing = rng.standard_normal((n_latent, n_features)) / np.sqrt(n_latent)
    x = u @ mixing + input_noise * rng.standard_normal((n, n_features))
    cuts = norm.ppf([1 / 3, 2 / 3]) * np.sqrt(1 + label_noise**2)
    y = np.empty((n, n_tasks), dtype=np.int64)
    outputs = task_outputs(n_tasks)
    for t, r in enumerate(outputs):
        task_rng = np.random.default_rng([seed, 1, t])
        w = task_rng.standard_normal(n_latent)
        score = u @ (w / np.linalg.norm(w)) + label_noise * task_rng.standard_normal(n)
        y[:, t] = (score > 0) if r == 1 else np.digitize(score, cuts)
    x = x.astype(np.float32)
    return TaskFamily(x[:n_train], y[:n_train], x[n_train:], y[n_train:], outputs)


# --------------------------------------------------------------------------- heads


def capacity_matched_config(
    n_tasks: int, task_qubits: int = 2, n_layers: int = 3, head_layers: int = 1, output_scale: bool = True
) -> QMTLConfig:
    """QMTL head of the family under Eqs. (12)-(14): ``Q = S·T``, ``d = Q·L = S·T·L``.

    Taught in: 04a_task_scaling_and_shots, "Heads sized by the capacity-matched rule"
    """
    outputs = task_outputs(n_tasks)
    return QMTLConfig(
        n_qubits=task_qubits * n_tasks,
        n_layers=n_layers,
        task_outputs=outputs,
        task_qubits=(task_qubits,) * n_tasks,
        head_layers=head_layers,
        output_scale=output_scale,
        observables=tuple(BINARY_WORDS if r == 1 else MULTICLASS_WORDS for r in outputs),
    )


def qmtl_backend(n_qubits: int, fast_max_qubits: int = 8) -> str:
    """Simulator of a ``Q``-qubit QMTL head: ``"fast"`` (dense state) up to ``fast_max_qubits``, else ``"mps"``."""
    return "fast" if n_qubits <= fast_max_qubits else "mps"


def closed_form_params(variant: str, config: QMTLConfig, hqnn_qubits: int = 4) -> tuple[int, str]:
    """(closed-form head parameter count, where it comes from) for ``variant``."""
    if variant == "classical":
        return classical_head_params(config.d, config.task_outputs), "Eq. (8) (Eq. (15) for equal r)"
    if variant == "qmtl":
        S, T = config.task_qubits[0], config.n_tasks
        scales = T if config.output_scale else 0
        return capacity_matched_qmtl(T, S, config.n_layers, config.head_layers) + scales, "Eq. (16) + T scales"
    return hqnn_head_params(config.d, hqnn_qubits, config.task_outputs), "Appendix B"


# --------------------------------------------------------------------------- training


def train_scaling_run(
    n_tasks: int, variant: str, seed: int, settings: ScalingSettings, backend: str = "fast", verbose: bool = False
) -> tuple[dict, pd.DataFrame]:
    """Train one (T, variant, seed) run; returns (run record, per-task test metrics).

    Adam on the summed task losses (Eq. (1) with λ_t = 1, :func:`~qmtl_utils.training.losses.multitask_loss`),
    every task in every batch (:func:`~qmtl_utils.training.common.parallel_epoch`), fixed ``epochs``;
    the test metrics are those of the last epoch. ``backend`` goes to the QMTL head.
    """
    s = settings
    data = make_task_family(n_tasks, seed, s.n_train, s.n_test, s.n_features, s.n_latent, s.input_noise, s.label_noise)
    config = capacity_matched_config(n_tasks, s.task_qubits, s.n_layers, s.head_layers, s.output_scale)
    seed_everything(seed)
    head = make_head_for_config(config, variant, s.hqnn_qubits, **({"backend": backend} if variant == "qmtl" else {}))
    model = MultiTaskModel(nn.Sequential(nn.Linear(s.n_features, config.d), nn.Tanh()), head)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    kinds = ["binary" if r == 1 else "multiclass" for r in data.task_outputs]
    generator = torch.Generator().manual_seed(seed)
    progress = Progress(f"scaling T={n_tasks} {variant} seed {seed}", s.epochs, enabled=verbose)
    epoch_s = []
    for epoch in range(s.epochs):
        model.train()
        start = time.perf_counter()
        loss = parallel_epoch(
            model, x, y, optimizer, lambda out, target: multitask_loss(kinds, out, target), s.batch_size, generator
        )
        epoch_s.append(time.perf_counter() - start)
        progress.log(epoch + 1, f"epoch {epoch + 1}/{s.epochs}", {"loss": loss})
    model.eval()
    with torch.no_grad():
        pred = predicted_classes([o.numpy() for o in model(torch.from_numpy(data.x_test))])
    tasks = pd.DataFrame(
        [
            {
                "task": t,
                "n_classes": n_classes,
                **accuracy_macro_f1(data.y_test[:, t], pred[:, t]),
                "majority_accuracy": majority_accuracy(data.y_train[:, t], data.y_test[:, t], n_classes),
            }
            for t, n_classes in enumerate(data.n_classes)
        ]
    )
    closed, source = closed_form_params(variant, config, s.hqnn_qubits)
    record = {
        "T": n_tasks,
        "variant": variant,
        "seed": seed,
        "Q": {"classical": 0, "hqnn4": s.hqnn_qubits, "qmtl": config.n_qubits}[variant],
        "d": config.d,
        "head_params": count_trainable(head),
        "closed_form_params": closed,
        "closed_form": source,
        "accuracy": float(tasks.accuracy.mean()),
        "macro_f1": float(tasks.macro_f1.mean()),
        "majority_accuracy": float(tasks.majority_accuracy.mean()),
        "epoch_s": float(np.mean(epoch_s)),
        "train_s": float(np.sum(epoch_s)),
        "backend": {"classical": "torch", "hqnn4": "fast"}.get(variant, backend),
    }
    return record, tasks


# --------------------------------------------------------------------------- sweep


def _write_run(folder, n_tasks: int, variant: str, seed: int, settings: ScalingSettings, backend: str, verbose: bool) -> dict:
    record, tasks = train_scaling_run(n_tasks, variant, seed, settings, backend, verbose)
    write_json(record, folder / "run.json")
    write_csv(tasks, folder / "tasks.csv")
    return {"accuracy": record["accuracy"], "epoch_s": record["epoch_s"]}


def _unit_run(folder, n_tasks: int, variant: str, seed: int, settings: ScalingSettings, backend: str) -> dict:
    """One run on an executor's worker, with the sweep's torch thread count."""
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    return _write_run(folder, n_tasks, variant, seed, settings, backend, False)


def run_scaling(
    cache: Cache, settings: ScalingSettings | dict | None = None, verbose: bool = False, compute: bool = True
) -> Entry:
    """Train every (T, variant, seed) of ``settings`` not yet in ``cache``, then write the tables.

    One ``scaling_run`` entry per run (``run.json``: T, variant, seed, Q, d, measured and
    closed-form head parameters, mean test accuracy / macro-F1 over tasks, majority baseline, mean
    seconds per epoch, backend; ``tasks.csv``: per-task test metrics) and a ``scaling_results``
    entry with ``runs.csv`` (one row per run) and ``tasks.csv`` (one row per run and task). Prints
    one line per run with the elapsed time (``verbose``: also one per epoch). QMTL runs with
    ``Q > fast_max_qubits`` use the exact MPS backend (:mod:`qmtl_utils.quantum.mps`). ``compute=False``
    only looks the tables up (the figures notebook): MissingCacheEntry if the sweep has not run.
    """
    s = coerce(settings)
    code = code_fingerprint(__name__)
    jobs = [(T, v, seed) for T in s.tasks for v in s.variants for seed in s.seeds]
    backends = {T: qmtl_backend(s.task_qubits * T, s.fast_max_qubits) for T in s.tasks}
    if compute:
        executor.prefetch(
            cache,
            [
                executor.Unit(
                    RUN_STAGE,
                    {
                        "T": T,
                        "variant": v,
                        "seed": seed,
                        "backend": backends[T] if v == "qmtl" else "fast",
                        "settings": s.run_settings(),
                    },
                    _unit_run,
                    {"n_tasks": T, "variant": v, "seed": seed, "settings": s, "backend": backends[T] if v == "qmtl" else "fast"},
                    code_version=code,
                    label=f"scaling T={T} {v} seed {seed}",
                    gpu=False,
                )
                for T, v, seed in jobs
            ],
        )
    threads = torch.get_num_threads()
    if s.num_threads:  # one thread is far faster than two on a CPU shared with other processes
        torch.set_num_threads(s.num_threads)
    keys, runs, task_frames, started = [], [], [], time.perf_counter()
    try:
        for i, (T, variant, seed) in enumerate(jobs):
            backend = backends[T] if variant == "qmtl" else "fast"
            params = {"T": T, "variant": variant, "seed": seed, "backend": backend, "settings": s.run_settings()}
            if not compute:  # the figures notebook needs only the keys of the runs
                keys.append(cache.lookup(RUN_STAGE, params, code_version=code).key)
                continue
            entry = cache.get_or_compute(
                RUN_STAGE,
                params,
                lambda folder, T=T, v=variant, seed=seed, b=backend: _write_run(folder, T, v, seed, s, b, verbose),
                code_version=code,
            )
            keys.append(entry.key)
            record = entry.read_json("run.json")
            runs.append(record)
            task_frames.append(entry.read_csv("tasks.csv").assign(T=T, variant=variant, seed=seed))
            print(
                f"[scaling] run {i + 1}/{len(jobs)} T={T} {variant} seed {seed} ({record['backend']}): "
                f"acc {record['accuracy']:.3f} (majority {record['majority_accuracy']:.3f}), "
                f"{record['epoch_s']:.2f} s/epoch; {time.perf_counter() - started:.0f} s so far",
                flush=True,
            )
    finally:
        torch.set_num_threads(threads)

    def write(folder):
        write_csv(pd.DataFrame(runs)[list(RUN_COLUMNS)], folder / "runs.csv")
        tasks = pd.concat(task_frames, ignore_index=True)
        write_csv(
            tasks[["T", "variant", "seed"] + [c for c in tasks.columns if c not in ("T", "variant", "seed")]],
            folder / "tasks.csv",
        )

    params = {"tasks": s.tasks, "seeds": s.seeds, "variants": s.variants}  # the runs: their keys are upstream
    if compute:
        return cache.get_or_compute(RESULTS_STAGE, params, write, upstream=keys, code_version=code)
    return cache.lookup(RESULTS_STAGE, params, upstream=keys, code_version=code)
