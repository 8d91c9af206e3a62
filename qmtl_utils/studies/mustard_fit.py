"""Why the quantum heads under-fit Extended MUStARD's sentiment and emotion tasks: measurements
(beyond the paper; notebook ``03a_mustard_fit``, stage ``mustard_fit``).

Two kinds of evidence, both on the benchmark's own configuration (Q = 13, L = 3, S = 1, 2, 2, 4, 4,
raw expectation values as logits, Appendix B.3):

* :func:`angle_sensitivity` — which encoding angles can move which task's outputs (each task's
  light cone): the RMS derivative of each task's expectation values with respect to each angle slot
  ``(layer l, qubit q)`` of Eq. (3), over random inputs and random head weights. A slot with zero
  derivative for every task is a feature the head can never use (the first data layer acts on
  ``H|0> = |+>``, an eigenstate of RX, so its angles are a global phase).
* :func:`fit_probe` — the training protocol of Appendix C.3 (Adam, batch 16, the task weights, the
  validation split) instrumented per epoch: accuracy on the **training** rows and on the test fold
  per task, and the gradient norm reaching the projection and the circuit. Each probe changes one
  thing against the paper's reading (:data:`PROBES`), so a change that lets the head fit names the
  cause; the classical head goes through the same loop as the reference.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from qmtl_utils.data import datasets
from qmtl_utils.models.backbones.mustard import MustardProjection, mustard_features
from qmtl_utils.models.factory import make_head, make_head_for_config, qmtl_config
from qmtl_utils.runtime import executor
from qmtl_utils.runtime.cache import Cache, Entry, write_csv
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.runtime.seeding import seed_everything
from qmtl_utils.spec import BENCHMARKS
from qmtl_utils.training.common import MultiTaskModel
from qmtl_utils.training.losses import multitask_loss
from qmtl_utils.training.mustard import validation_split

BENCHMARK = "mustard"

# (name, changes against the paper's QMTL head and protocol); "variant" swaps the head itself
PROBES: tuple[tuple[str, dict], ...] = (
    ("QMTL, paper (w=0.2)", {}),
    ("QMTL, angles x0.3", {"angle_scale": 0.3}),
    ("QMTL, angles pi*tanh", {"angle_scale": "pi_tanh"}),
    ("QMTL, lr 1e-2", {"lr": 1e-2}),
    ("QMTL, logit bias", {"logit_bias": True}),
    ("QMTL, logit scale + w=1.0", {"output_scale": True, "task_weight": 1.0}),
    ("QMTL, tasks in reverse order", {"reverse_wires": True}),
    ("classical head", {"variant": "classical", "task_weight": 1.0}),
)


# --------------------------------------------------------------------------- light cone


def angle_sensitivity(spec=None, n_samples: int = 16, n_heads: int = 2, seed: int = 0, **config_overrides) -> pd.DataFrame:
    """RMS of ``d<O>/d z_{l,q}`` per task and encoding slot (layer ``l``, qubit ``q``; the angle
    ``z[l*Q + q]`` of Eq. (3)), over ``n_samples`` uniform random angle vectors and ``n_heads``
    random initialisations of the head (its own ``reset_parameters``). Columns: task, layer, qubit,
    sensitivity (mean over the task's observables).

    Taught in: 03a_mustard_fit, "The light cone: which angles reach which task"
    Taught in: 04b_open_choices, "The encoding order, next to Eq. (3)"
    """
    spec = spec or BENCHMARKS[BENCHMARK]
    config = qmtl_config(spec, **config_overrides)
    generator = torch.Generator().manual_seed(seed)
    squares = torch.zeros(config.n_tasks, config.d, dtype=torch.float64)
    for _ in range(n_heads):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        head = make_head_for_config(config, "qmtl").double()
        z = 2 * math.pi * torch.rand(n_samples, config.d, generator=generator, dtype=torch.float64)
        z.requires_grad_(True)
        expvals = head.expectation_values(z)  # (N, Σr); samples are independent, so the gradient of a
        jac = torch.stack(
            [
                torch.autograd.grad(expvals[:, k].sum(), z, retain_graph=True)[0]  # column sum
                for k in range(expvals.shape[1])
            ],
            dim=1,
        )  # is each sample's: (N, Σr, d)
        start = 0
        for t, r in enumerate(config.task_outputs):
            squares[t] += jac[:, start : start + r].pow(2).mean(dim=(0, 1)).detach()
            start += r
    rms = (squares / n_heads).sqrt().numpy()
    rows = [
        {
            "task": spec.tasks[t].name,
            "layer": slot // config.n_qubits + 1,
            "qubit": slot % config.n_qubits,
            "sensitivity": float(rms[t, slot]),
        }
        for t in range(config.n_tasks)
        for slot in range(config.d)
    ]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- instrumented training


class _PiTanh(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return math.pi * torch.tanh(x)


class _Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * x


class _LogitBias(nn.Module):
    """A head followed by one learnable offset per logit (what a classical linear head has)."""

    def __init__(self, head: nn.Module, outputs):
        super().__init__()
        self.head = head
        self.bias = nn.ParameterList(nn.Parameter(torch.zeros(r)) for r in outputs)

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        return [o + b for o, b in zip(self.head(z), self.bias)]


def _model(variant: str, in_features: int, changes: dict) -> nn.Module:
    spec = BENCHMARKS[BENCHMARK]
    projection = MustardProjection.for_head(variant, in_features, d=spec.d)
    if changes.get("angle_scale") == "pi_tanh":
        projection = nn.Sequential(projection, _PiTanh())
    elif isinstance(changes.get("angle_scale"), (int, float)):
        projection = nn.Sequential(projection, _Scale(float(changes["angle_scale"])))
    if variant == "qmtl" and (changes.get("output_scale") or changes.get("reverse_wires")):
        overrides = {"output_scale": bool(changes.get("output_scale"))}
        if changes.get("reverse_wires"):  # the same blocks, placed from the last qubit backwards
            wires, start = [], spec.n_qubits
            for s in spec.task_qubits:
                wires.append(tuple(range(start - s, start)))
                start -= s
            overrides["task_wires"] = tuple(wires)
        head = make_head_for_config(qmtl_config(spec, **overrides), "qmtl")
    else:
        head = make_head(spec, variant)
    if changes.get("logit_bias"):
        head = _LogitBias(head, spec.task_outputs)
    return MultiTaskModel(projection, head)


def _accuracies(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    with torch.no_grad():
        outputs = model(x)
    accs = []
    for t, out in enumerate(outputs):
        pred = (out[:, 0] > 0).long() if out.shape[1] == 1 else out.argmax(1)
        accs.append(float((pred == y[:, t]).float().mean()))
    return accs


def _grad_norm(parameters) -> float:
    grads = [p.grad.detach().pow(2).sum() for p in parameters if p.grad is not None]
    return float(torch.stack(grads).sum().sqrt()) if grads else 0.0


def fit_probe(
    features: np.ndarray, labels: np.ndarray, folds, fold: int, changes: dict, settings: dict, epochs: int | None = None
) -> pd.DataFrame:
    """Train one head on one fold with the Appendix C.3 protocol changed by ``changes`` (keys:
    ``variant``, ``task_weight``, ``lr``, ``output_scale``, ``angle_scale`` — ``"pi_tanh"`` or a fixed
    factor —, ``reverse_wires``, ``logit_bias``) and return one row per (epoch, task): train and test accuracy, the
    training loss, the mean per-batch gradient norm reaching the projection and the head, and the
    spread (std) of the projection's outputs on the training rows: the angles the circuit sees.

    Taught in: 03a_mustard_fit, "Fitting or generalising? The protocol, instrumented"
    """
    spec = BENCHMARKS[BENCHMARK]
    variant = changes.get("variant", "qmtl")
    train_settings = settings["train"]
    epochs = epochs or train_settings["max_epochs"]
    weight = changes.get("task_weight", settings["qmtl_task_weight"] if variant == "qmtl" else 1.0)
    test = folds[fold]
    train_val = np.setdiff1d(np.arange(len(features)), test)
    train, _ = validation_split(train_val, settings["validation_fraction"], fold, strata=labels[train_val, 0])
    seed_everything(fold)
    model = _model(variant, features.shape[1], changes)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=changes.get("lr", train_settings["lr"]))
    x, y = torch.as_tensor(features, dtype=torch.float32), torch.as_tensor(labels, dtype=torch.long)
    kinds = [t.kind for t in spec.tasks]
    generator = torch.Generator().manual_seed(fold)
    rows, batch = [], train_settings["batch_size"]
    for epoch in range(1, epochs + 1):
        model.train()
        losses, g_projection, g_head = [], [], []
        order = torch.as_tensor(train)[torch.randperm(len(train), generator=generator)]
        for rows_b in order.split(batch):
            loss = multitask_loss(kinds, model(x[rows_b]), y[rows_b], [weight] * len(kinds))
            optimizer.zero_grad()
            loss.backward()
            g_projection.append(_grad_norm(model.backbone.parameters()))
            g_head.append(_grad_norm(model.head.parameters()))
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        train_acc, test_acc = _accuracies(model, x[train], y[train]), _accuracies(model, x[test], y[test])
        with torch.no_grad():
            angles = model.backbone(x[train])
        for t, task in enumerate(spec.tasks):
            rows.append(
                {
                    "epoch": epoch,
                    "task": task.name,
                    "train_accuracy": train_acc[t],
                    "test_accuracy": test_acc[t],
                    "train_loss": float(np.mean(losses)),
                    "grad_projection": float(np.mean(g_projection)),
                    "grad_head": float(np.mean(g_head)),
                    "angle_std": float(angles.std()),
                }
            )
    return pd.DataFrame(rows)


def majority_rates(labels: np.ndarray, folds, fold: int) -> dict[str, float]:
    """Per task, the accuracy of predicting the training rows' most frequent class on those rows."""
    test = folds[fold]
    train = np.setdiff1d(np.arange(len(labels)), test)
    return {
        t.name: float(np.mean(labels[train, i] == np.bincount(labels[train, i]).argmax()))
        for i, t in enumerate(BENCHMARKS[BENCHMARK].tasks)
    }


# --------------------------------------------------------------------------- the cached stage


def selected_probes(profile: dict) -> tuple[tuple[str, dict], ...]:
    """The :data:`PROBES` the profile runs (``mustard_fit.probes``: "all" or their names), in order."""
    names = profile.get("mustard_fit", {}).get("probes", "all")
    if names == "all":
        return PROBES
    unknown = set(names) - {name for name, _ in PROBES}
    if unknown:
        raise ValueError(f"mustard_fit.probes: unknown probe(s) {sorted(unknown)}; see mustard_fit.PROBES")
    return tuple(p for p in PROBES if p[0] in names)


PROBE_STAGE = "mustard_probe"  # one cache entry per probe: the executor's units


def _probe_params(name: str, changes: dict, settings: dict, fold: int) -> dict:
    return {"probe": name, "changes": changes, "settings": settings, "fold": fold}


def probe_units(cache: Cache, profile: dict, probes=None) -> list[executor.Unit]:
    """Each probe of :func:`mustard_fit` as an executor unit (stage ``mustard_probe``: ``probe.csv``)."""
    probes = selected_probes(profile) if probes is None else probes
    data_entry = datasets.mustard_dataset(cache, profile["data"][BENCHMARK])
    settings = profile["training"][BENCHMARK]
    fold = settings["replicates"][0]
    return [
        executor.Unit(
            PROBE_STAGE,
            _probe_params(name, changes, settings, fold),
            _unit_probe,
            {"cache_root": str(cache.root), "profile": profile, "name": name, "changes": changes},
            upstream=(data_entry.key,),
            code_version=code_fingerprint(__name__),
            label=f"mustard fit probe: {name}",
            gpu=True,
        )
        for name, changes in probes
    ]


def _unit_probe(folder, *, cache_root: str, profile: dict, name: str, changes: dict) -> None:
    """One probe of :func:`mustard_fit` on an executor's worker: the profile's features, fold 1."""
    _, features, label_frame, folds, _ = mustard_features(Cache(Path(cache_root)), profile["data"][BENCHMARK])
    settings = profile["training"][BENCHMARK]
    labels = label_frame[[t.name for t in BENCHMARKS[BENCHMARK].tasks]].to_numpy()
    start = time.perf_counter()
    frame = fit_probe(features, labels, folds, settings["replicates"][0], changes, settings)
    write_csv(frame.assign(probe=name, seconds=round(time.perf_counter() - start, 1)), folder / "probe.csv")


def mustard_fit(cache: Cache, profile: dict, probes=None, compute: bool = True) -> Entry:
    """Stage ``mustard_fit``: ``light_cone.csv`` (:func:`angle_sensitivity`) and ``probes.csv`` (each probe —
    default the profile's :func:`selected_probes` — through :func:`fit_probe` on the profile's first
    fold, column ``probe``; each probe is its own ``mustard_probe`` entry, computed by the executor),
    plus ``majority.csv`` (training-row majority rates per task)."""
    probes = selected_probes(profile) if probes is None else probes
    data_entry, _, label_frame, folds, _ = mustard_features(cache, profile["data"][BENCHMARK])
    settings = profile["training"][BENCHMARK]
    fold = settings["replicates"][0]
    units = probe_units(cache, profile, probes)
    if compute:
        executor.prefetch(cache, units)
    entries = [cache.lookup(u.stage, u.params, upstream=list(u.upstream), code_version=u.code_version) for u in units]

    def write(folder) -> None:
        labels = label_frame[[t.name for t in BENCHMARKS[BENCHMARK].tasks]].to_numpy()
        write_csv(angle_sensitivity(), folder / "light_cone.csv")
        write_csv(pd.concat([e.read_csv("probe.csv") for e in entries], ignore_index=True), folder / "probes.csv")
        write_csv(pd.DataFrame([majority_rates(labels, folds, fold)]), folder / "majority.csv")

    params = {"probes": [[n, c] for n, c in probes], "settings": settings, "fold": fold}
    upstream, code = [data_entry.key, *(e.key for e in entries)], code_fingerprint(__name__)
    if compute:
        return cache.get_or_compute(
            "mustard_fit", params, write, upstream=upstream, code_version=code, meta={"profile": profile["name"]}
        )
    return cache.lookup("mustard_fit", params, upstream=upstream, code_version=code)
