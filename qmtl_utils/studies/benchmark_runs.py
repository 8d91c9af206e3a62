"""The per-benchmark experiments of §5: every head variant, every seed or fold, cached run by run.

Each run (benchmark, head variant, seed or fold) is one entry of the content-keyed cache, keyed by
the training settings, the dataset it used and the code; a run that was already done is read back,
so an interrupted notebook resumes where it stopped. :func:`run_benchmark` trains what is missing
and writes the benchmark's result tables (stage ``results_<benchmark>``): ``metrics.csv`` in long
format (variant, replicate, task, metric, value), ``runs.csv`` (best epoch and the checkpoint's
validation score, wall time, head parameters, backbone actually used, profile) and ``history.csv``
(every run's learning curve, :func:`history_frame`). The figures notebook reads them with
:func:`results_entry`.

Every run keeps its **history** (``history.csv``): one row per validation check of its protocol
(GLUE: every ``validate_every`` updates and after the last one; CheXpert and MUStARD: every
epoch) with the step, the epoch, the mean training loss since the previous row, the validation
score that selects the checkpoint (:data:`VALIDATION_METRIC`) and the learning rate, so a learning
curve is drawn from the cache without retraining. ``run.json`` names the checkpoint's row:
``best_step`` and ``best_validation``.

``spec_overrides`` (e.g. ``{"n_layers": 4}``, ``{"entangle": False}``) train a variant of the
benchmark's configuration: the §6 ablations. CheXpert and MUStARD runs also keep what the noise,
hardware and shot studies need without retraining: the trained head (``head.pt``) and the test
fold's shared features ``Z`` with their labels (``test_features.npz``), read by :func:`load_checkpoint`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from qmtl_utils.data import datasets
from qmtl_utils.models.factory import make_head
from qmtl_utils.models.params import count_trainable, variant_label
from qmtl_utils.runtime import executor
from qmtl_utils.runtime.cache import Cache, Entry, write_csv, write_json
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.spec import BENCHMARKS, HEAD_VARIANTS, BenchmarkSpec, benchmark_spec
from qmtl_utils.training.metrics import (
    chexpert_metrics,
    metric_rows,
    multiclass_metrics,
    sample_decisions,
    sample_scores,
    signal_metrics,
)

CHECKPOINT_BENCHMARK = "chexpert"  # §6.3 and §7 evaluate the fold-1 CheXpert head
TEST_METRICS = ("accuracy", "precision", "recall", "f1")  # Table 3
# The validation score that selects each protocol's checkpoint (Appendix C), as its history names it:
# GLUE the macro average of the tasks' primary metrics, CheXpert the mean F1 over the five tasks
# (Eq. (25) decisions), Extended MUStARD the sarcasm F1.
VALIDATION_METRIC = {"glue": "macro_average", "chexpert": "val_mean_f1", "mustard": "val_sarcasm_f1"}
HISTORY_COLUMNS = ("step", "epoch", "train_loss", "validation", "lr")


class RunOutput(NamedTuple):
    """What one training run gives :func:`_write_run`."""

    rows: list  # metric rows (task, metric, value)
    info: dict  # run.json fields
    checkpoint: dict  # {"head", "z", "labels"} (CheXpert, MUStARD) or {} (GLUE)
    outputs: dict  # {task: (test outputs, test labels)}
    history: pd.DataFrame  # history_frame of the protocol's history


def history_frame(benchmark: str, history: list[dict], lr: float | None = None) -> pd.DataFrame:
    """A protocol's ``history`` (:func:`~qmtl_utils.training.train_glue`, ``train_chexpert``,
    ``train_mustard``) as the table a run keeps, columns :data:`HISTORY_COLUMNS`: ``step`` (GLUE:
    the update count at the validation check; otherwise the epoch), ``epoch``, ``train_loss`` (mean
    over the updates since the previous row; for GLUE each update's loss is the sampled task's, for
    the others Eq. (1) over the five tasks), ``validation`` (:data:`VALIDATION_METRIC`; NaN on a
    CheXpert epoch without a validation check) and ``lr`` (MUStARD's constant Adam rate ``lr``)."""
    metric = VALIDATION_METRIC[benchmark]
    return pd.DataFrame(
        [
            {
                "step": h["update"] if benchmark == "glue" else h["epoch"],
                "epoch": h["epoch"],
                "train_loss": h["train_loss"],
                "validation": h.get(metric, float("nan")),
                "lr": h.get("lr", lr),
            }
            for h in history
        ],
        columns=list(HISTORY_COLUMNS),
    )


def best_row(history: pd.DataFrame) -> pd.Series:
    """The history row of the checkpoint a protocol keeps: the first row with the largest validation
    score (every protocol's :class:`~qmtl_utils.training.common.BestCheckpoint` keeps the first of ties)."""
    return history.loc[history["validation"].idxmax()]


# --------------------------------------------------------------------------- one run per benchmark


@torch.no_grad()
def _test_features(model, batches) -> np.ndarray:
    """Shared features ``Z = backbone(x)`` of the test inputs, eval mode: ``(N, d)`` float32."""
    model.eval()
    return torch.cat([model.backbone(x) for x in batches]).float().numpy()


def _glue_run(spec: BenchmarkSpec, settings: dict, variant: str, seed: int, tokens: dict, encoder_info: dict) -> RunOutput:
    from qmtl_utils.models.backbones.glue import GlueBackbone
    from qmtl_utils.training import MultiTaskModel, train_glue

    torch.manual_seed(seed)
    backbone = GlueBackbone(encoder_hidden=encoder_info["hidden_size"], d=spec.d, **settings.get("backbone", {}))
    model = MultiTaskModel(backbone, make_head(spec, variant))
    result = train_glue(model, tokens, {t.name: t.kind for t in spec.tasks}, {**settings["train"], "seed": seed})
    rows = []
    for task, values in result["metrics"].items():
        primary, secondary = values["names"]
        rows += [
            {"task": task, "metric": f"primary:{primary}", "value": values["primary"]},
            {"task": task, "metric": f"secondary:{secondary}", "value": values["secondary"]},
        ]
    outputs = {t: (result["validation_outputs"][t], tokens[t]["validation"].label.numpy()) for t in tokens}
    info = {
        "best_epoch": result["best_epoch"],
        "best_step": result["best_update"],
        "best_validation": result["macro_average"],
        "n_updates": result["n_updates"],
        "stopped_early": result["stopped_early"],
        "backbone": encoder_info["encoder"],
        "head_params": count_trainable(model.head),
    }
    return RunOutput(rows, info, {}, outputs, history_frame("glue", result["history"]))


def _chexpert_run(spec: BenchmarkSpec, settings: dict, variant: str, fold: int, frame, root: Path, folds) -> RunOutput:
    from torch.utils.data import DataLoader

    from qmtl_utils.data.chexpert import ChexpertDataset
    from qmtl_utils.models.backbones.chexpert import ChexpertBackbone
    from qmtl_utils.training import MultiTaskModel, train_chexpert

    n = len(folds)
    test, val = folds[fold], folds[(fold + 1) % n]
    train = np.setdiff1d(np.arange(len(frame)), np.concatenate([test, val]))
    size = settings["image_size"]
    batch = settings["batch_size_hqnn"] if variant.startswith("hqnn") else settings["batch_size"]
    generator = torch.Generator().manual_seed(fold)

    def loader(rows, shuffle: bool, augment: bool) -> DataLoader:
        data = ChexpertDataset(frame.iloc[rows], root, image_size=size, train=augment, in_memory=settings.get("in_memory", False))
        return DataLoader(data, batch_size=batch, shuffle=shuffle, generator=generator if shuffle else None)

    torch.manual_seed(fold)
    backbone = ChexpertBackbone(
        d=spec.d, pretrained=settings["pretrained"], allow_download=settings["allow_download"], densenet=settings.get("densenet")
    )
    model = MultiTaskModel(backbone, make_head(spec, variant))
    test_loader = loader(test, False, False)
    result = train_chexpert(
        model, loader(train, True, True), loader(val, False, False), test_loader, {**settings["train"], "seed": fold}
    )
    checkpoint = {
        "head": model.head,
        "z": _test_features(model, (x for x, _ in test_loader)),
        "labels": np.asarray(test_loader.dataset.labels),
    }
    name = "densenet121" if settings.get("densenet") is None else "small DenseNet"
    info = {
        "best_epoch": result["best_epoch"],
        "best_step": result["best_epoch"],
        "best_validation": result["val_mean_f1"],
        "n_epochs": result["n_epochs"],
        "stopped_early": result["stopped_early"],
        "backbone": f"{name} ({backbone.weights})",
        "head_params": count_trainable(model.head),
    }
    return RunOutput(
        metric_rows(result["test"], TEST_METRICS),
        info,
        checkpoint,
        _checkpoint_outputs(spec, checkpoint),
        history_frame("chexpert", result["history"]),
    )


def _mustard_run(spec: BenchmarkSpec, settings: dict, variant: str, fold: int, features, labels, folds) -> RunOutput:
    from qmtl_utils.models.backbones.mustard import MustardProjection
    from qmtl_utils.training import MultiTaskModel, train_mustard
    from qmtl_utils.training.mustard import validation_split

    test = folds[fold]
    train_val = np.setdiff1d(np.arange(len(features)), test)
    train, val = validation_split(train_val, settings["validation_fraction"], fold, strata=labels[train_val, 0])
    torch.manual_seed(fold)
    projection = MustardProjection.for_head(variant, features.shape[1], d=spec.d)
    model = MultiTaskModel(projection, make_head(spec, variant))
    weight = settings["qmtl_task_weight"] if variant == "qmtl" else 1.0  # Appendix C.3
    result = train_mustard(
        model,
        torch.from_numpy(features),
        torch.from_numpy(labels),
        train,
        val,
        test,
        {**settings["train"], "seed": fold, "task_weight": weight},
    )
    checkpoint = {"head": model.head, "z": _test_features(model, [torch.from_numpy(features[test])]), "labels": labels[test]}
    info = {
        "best_epoch": result["best_epoch"],
        "best_step": result["best_epoch"],
        "best_validation": result["val_sarcasm_f1"],
        "n_epochs": result["n_epochs"],
        "backbone": "dense projection",
        "head_params": count_trainable(model.head),
    }
    return RunOutput(
        metric_rows(result["test"], TEST_METRICS),
        info,
        checkpoint,
        _checkpoint_outputs(spec, checkpoint),
        history_frame("mustard", result["history"], lr=result["settings"]["lr"]),
    )


@torch.no_grad()
def _checkpoint_outputs(spec: BenchmarkSpec, checkpoint: dict) -> dict:
    """``{task: (test outputs, test labels)}`` of a trained head on its test features Z (eval mode)."""
    head = checkpoint["head"].eval()
    outputs = head(torch.from_numpy(checkpoint["z"]))
    return {t.name: (o.float().numpy(), checkpoint["labels"][:, i]) for i, (t, o) in enumerate(zip(spec.tasks, outputs))}


def _predictions(spec: BenchmarkSpec, outputs: dict) -> pd.DataFrame:
    """``predictions.csv``: one row per evaluated test sample and task (label, prediction, score),
    decided as the metrics decide (:func:`~qmtl_utils.training.metrics.sample_decisions`); ``score``
    is the positive-class probability of a binary decision (NaN otherwise), what AUROC ranks."""
    frames = []
    for task in spec.tasks:
        if task.name not in outputs:  # a GLUE task left out of this run (glue_tasks)
            continue
        label, prediction = sample_decisions(spec.name, task.kind, *outputs[task.name])
        frames.append(
            pd.DataFrame(
                {
                    "task": task.name,
                    "label": label,
                    "prediction": prediction,
                    "score": sample_scores(spec.name, task.kind, *outputs[task.name]),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _signal_rows(spec: BenchmarkSpec, outputs: dict) -> list[dict]:
    """Balanced accuracy and (binary decisions) AUROC of each task's test outputs, as metric rows."""
    return [
        {"task": task.name, "metric": name, "value": value}
        for task in spec.tasks
        if task.name in outputs
        for name, value in signal_metrics(spec.name, task.kind, *outputs[task.name]).items()
    ]


# --------------------------------------------------------------------------- orchestration


def _inputs(cache: Cache, profile: dict, benchmark: str) -> tuple[Entry, dict]:
    """The dataset entry a benchmark's runs depend on, and the arguments of its run function."""
    data = profile["data"][benchmark]
    if benchmark == "glue":
        from qmtl_utils.models.backbones.glue import cached_token_features, load_text_encoder

        entry = datasets.glue_dataset(cache, data)
        encoder = load_text_encoder(data["encoder"], fallback=data["fallback_encoder"])
        tokens = cached_token_features(
            cache,
            datasets.read_glue(entry),
            data["encoder"],
            data["max_length"],
            fallback=data["fallback_encoder"],
            encoder=encoder,
        )
        return entry, {"tokens": tokens, "encoder_info": encoder[2]}
    if benchmark == "chexpert":
        entry = datasets.chexpert_dataset(cache, data)
        frame, root, folds = datasets.read_chexpert(entry)
        return entry, {"frame": frame, "root": root, "folds": folds}
    from qmtl_utils.models.backbones.mustard import mustard_features

    entry, features, labels, folds, _ = mustard_features(cache, data)
    label_matrix = labels[[t.name for t in BENCHMARKS["mustard"].tasks]].to_numpy()
    return entry, {"features": features, "labels": label_matrix, "folds": folds}


_RUNNERS = {"glue": _glue_run, "chexpert": _chexpert_run, "mustard": _mustard_run}


def _run_params(variant: str, replicate: int, settings: dict, spec_overrides: dict | None) -> dict:
    params = {"variant": variant, "replicate": replicate, "settings": settings}
    if spec_overrides:  # the paper's configuration keeps its original keys
        params["spec_overrides"] = dict(sorted(spec_overrides.items()))
    return params


def run_benchmark(
    cache: Cache, profile: dict, benchmark: str, variants=HEAD_VARIANTS, spec_overrides: dict | None = None
) -> Entry:
    """Train every (variant, replicate) not yet in the cache, then write the result tables.

    ``profile['training'][benchmark]`` holds ``replicates`` (seeds for GLUE, fold indices
    otherwise) and the protocol settings. Prints one line per run with the time so far and an ETA.
    """
    settings = profile["training"][benchmark]
    spec = benchmark_spec(benchmark, spec_overrides)
    data_entry, inputs = _inputs(cache, profile, benchmark)
    executor.prefetch(cache, benchmark_units(cache, profile, benchmark, variants, spec_overrides, data_entry.key))
    jobs = [(v, r) for v in variants for r in settings["replicates"]]
    run_keys, frames, runs, histories, started = [], [], [], [], time.perf_counter()
    for done, (variant, replicate) in enumerate(jobs):
        entry = cache.get_or_compute(
            f"run_{benchmark}",
            _run_params(variant, replicate, settings, spec_overrides),
            lambda folder, v=variant, r=replicate: _write_run(folder, spec, settings, v, r, inputs, profile["name"]),
            upstream=[data_entry.key],
            code_version=code_fingerprint(__name__),
        )
        run_keys.append(entry.key)
        frames.append(entry.read_csv("metrics.csv"))
        runs.append(entry.read_json("run.json"))
        histories.append(entry.read_csv("history.csv").assign(variant=variant, replicate=replicate))
        elapsed = time.perf_counter() - started
        eta = elapsed / (done + 1) * (len(jobs) - done - 1)
        print(
            f"[{benchmark}] run {done + 1}/{len(jobs)} ({variant}, replicate {replicate}) ready; "
            f"{elapsed:.0f} s so far, about {eta:.0f} s to go",
            flush=True,
        )

    def write(folder: Path) -> None:
        write_csv(pd.concat(frames, ignore_index=True), folder / "metrics.csv")
        write_csv(pd.DataFrame(runs), folder / "runs.csv")
        history = pd.concat(histories, ignore_index=True)
        history["label"] = history.variant.map(lambda v: variant_label(v, spec.n_qubits))
        write_csv(history[["variant", "replicate", "label", *HISTORY_COLUMNS]], folder / "history.csv")

    return cache.get_or_compute(
        f"results_{benchmark}",
        _results_params(variants, settings, spec_overrides),
        write,
        upstream=run_keys,
        code_version=code_fingerprint(__name__),
        meta=profile_meta(profile),
    )


def benchmark_units(
    cache: Cache,
    profile: dict,
    benchmark: str,
    variants=HEAD_VARIANTS,
    spec_overrides: dict | None = None,
    data_key: str | None = None,
) -> list[executor.Unit]:
    """The runs of :func:`run_benchmark` as executor units (same stage, params, upstream and code
    version, so the same cache keys): what ``--executor ray`` dispatches."""
    settings = profile["training"][benchmark]
    data_key = data_key or _data_key(cache, profile, benchmark)
    where = f" {dict(sorted(spec_overrides.items()))}" if spec_overrides else ""
    return [
        executor.Unit(
            f"run_{benchmark}",
            _run_params(v, r, settings, spec_overrides),
            _unit_run,
            {
                "cache_root": str(cache.root),
                "profile": profile,
                "benchmark": benchmark,
                "variant": v,
                "replicate": r,
                "spec_overrides": spec_overrides,
            },
            upstream=(data_key,),
            code_version=code_fingerprint(__name__),
            label=f"{benchmark} {v} replicate {r}{where}",
            gpu=True,
        )
        for v in variants
        for r in settings["replicates"]
    ]


_WORKER_INPUTS: dict[tuple, dict] = {}  # a Ray worker's decoded inputs, by (cache, benchmark, data settings)


def _unit_run(
    folder: Path, *, cache_root: str, profile: dict, benchmark: str, variant: str, replicate: int, spec_overrides: dict | None
) -> None:
    """One run of :func:`run_benchmark`, on an executor's worker: inputs rebuilt from the cache once per
    worker process, then exactly the serial loop's :func:`_write_run`."""
    memo = (cache_root, benchmark, repr(sorted(profile["data"][benchmark].items())))
    if memo not in _WORKER_INPUTS:
        _WORKER_INPUTS[memo] = _inputs(Cache(Path(cache_root)), profile, benchmark)[1]
    _write_run(
        folder,
        benchmark_spec(benchmark, spec_overrides),
        profile["training"][benchmark],
        variant,
        replicate,
        _WORKER_INPUTS[memo],
        profile["name"],
    )


def _results_params(variants, settings: dict, spec_overrides: dict | None) -> dict:
    params = {"variants": list(variants), "settings": settings}
    if spec_overrides:
        params["spec_overrides"] = dict(sorted(spec_overrides.items()))
    return params


def _write_run(
    folder: Path, spec: BenchmarkSpec, settings: dict, variant: str, replicate: int, inputs: dict, profile_name: str
) -> None:
    start = time.perf_counter()
    rows, info, checkpoint, outputs, history = _RUNNERS[spec.name](spec, settings, variant, replicate, **inputs)
    write_csv(_predictions(spec, outputs), folder / "predictions.csv")
    write_csv(history, folder / "history.csv")
    info["validation_metric"] = VALIDATION_METRIC[spec.name]
    rows = rows + _signal_rows(spec, outputs)
    if checkpoint:
        torch.save(checkpoint["head"].state_dict(), folder / "head.pt")
        np.savez(folder / "test_features.npz", z=checkpoint["z"], labels=checkpoint["labels"])
    frame = pd.DataFrame(rows)
    frame.insert(0, "replicate", replicate)
    frame.insert(0, "label", variant_label(variant, spec.n_qubits))
    frame.insert(0, "variant", variant)
    write_csv(frame, folder / "metrics.csv")
    write_json(
        {
            "variant": variant,
            "replicate": replicate,
            "wall_s": round(time.perf_counter() - start, 2),
            "profile": profile_name,
            **info,
        },
        folder / "run.json",
    )


def _data_key(cache: Cache, profile: dict, benchmark: str) -> str:
    """Key of the benchmark's cached dataset (a lookup verifies its files: do it once per call)."""
    dataset = {"glue": datasets.glue_dataset, "chexpert": datasets.chexpert_dataset, "mustard": datasets.mustard_dataset}[
        benchmark
    ]
    return dataset(cache, profile["data"][benchmark]).key


def run_entry(
    cache: Cache,
    profile: dict,
    benchmark: str,
    variant: str,
    replicate: int,
    spec_overrides: dict | None = None,
    data_key: str | None = None,
) -> Entry:
    """Look up one run's cache entry (metrics, ``run.json``, ``history.csv`` and, for CheXpert/MUStARD,
    the checkpoint)."""
    settings = profile["training"][benchmark]
    data_key = data_key or _data_key(cache, profile, benchmark)
    return cache.lookup(
        f"run_{benchmark}",
        _run_params(variant, replicate, settings, spec_overrides),
        upstream=[data_key],
        code_version=code_fingerprint(__name__),
    )


def results_entry(
    cache: Cache,
    profile: dict,
    benchmark: str,
    variants=HEAD_VARIANTS,
    spec_overrides: dict | None = None,
    data_key: str | None = None,
) -> Entry:
    """Look up a benchmark's result tables (no training): what the figures notebook reads."""
    settings = profile["training"][benchmark]
    data_key = data_key or _data_key(cache, profile, benchmark)
    run_keys = [
        run_entry(cache, profile, benchmark, v, r, spec_overrides, data_key).key for v in variants for r in settings["replicates"]
    ]
    return cache.lookup(
        f"results_{benchmark}",
        _results_params(variants, settings, spec_overrides),
        upstream=run_keys,
        code_version=code_fingerprint(__name__),
    )


class Checkpoint(NamedTuple):
    head: torch.nn.Module  # trained, eval mode
    z: np.ndarray  # (N, d) float32 shared features of the run's test fold
    labels: np.ndarray  # (N, T)
    key: str  # the run's cache key (upstream of anything computed from it)


def load_checkpoint(
    cache: Cache,
    profile: dict,
    benchmark: str,
    variant: str = "qmtl",
    replicate: int | None = None,
    spec_overrides: dict | None = None,
) -> Checkpoint:
    """The trained head of one run and its test fold's features and labels.

    ``replicate`` defaults to the first fold of the profile (the paper's "fold 1" checkpoint of
    §6.3 and §7). Only CheXpert and MUStARD runs keep checkpoints.
    """
    if benchmark == "glue":
        raise ValueError("GLUE runs keep no checkpoint; the noise and shot studies use chexpert or mustard")
    replicate = profile["training"][benchmark]["replicates"][0] if replicate is None else replicate
    entry = run_entry(cache, profile, benchmark, variant, replicate, spec_overrides)
    head = make_head(benchmark_spec(benchmark, spec_overrides), variant)
    head.load_state_dict(torch.load(entry.file("head.pt"), weights_only=True))
    head.eval()
    arrays = np.load(entry.file("test_features.npz"))
    return Checkpoint(head, arrays["z"], arrays["labels"], entry.key)


def evaluate_outputs(benchmark: str, outputs, labels: np.ndarray) -> dict[str, dict[str, float]]:
    """``{task: {accuracy, precision, recall, f1}}`` of per-task outputs (logits) on ``labels (N, T)``,
    as the training protocols report them: CheXpert with the Eq. (25) binary conversion, MUStARD
    macro-averaged per task. Used on outputs from shots, noisy simulators and hardware."""
    spec = BENCHMARKS[benchmark]
    logits = [np.asarray(torch.as_tensor(o).detach().float().numpy()) for o in outputs]
    if benchmark == "chexpert":
        return chexpert_metrics(logits, np.asarray(labels), task_names=spec.task_names)
    if benchmark == "mustard":
        return {
            task.name: multiclass_metrics(out, np.asarray(labels)[:, t], max(task.n_outputs, 2))
            for t, (task, out) in enumerate(zip(spec.tasks, logits))
        }
    raise ValueError(f"evaluate_outputs supports chexpert and mustard, not {benchmark!r}")


def expval_metric_rows(benchmark: str, head, expvals, labels: np.ndarray, **columns) -> list[dict]:
    """Tidy metric rows (``columns``, task, metric, value) of a QMTL head whose raw expectation values
    ``(N, Σ r_t)`` were obtained elsewhere (shots, noise, hardware): they go through the head's own
    output calibration (:meth:`~qmtl_utils.models.heads.QMTLHead.outputs_from_expvals`)."""
    with torch.no_grad():
        outputs = head.outputs_from_expvals(torch.as_tensor(expvals, dtype=torch.float64))
    return metric_rows(evaluate_outputs(benchmark, outputs, labels), **columns)


def checkpoint_inputs(cache: Cache, profile: dict, benchmark: str, n_samples: int | None):
    """(head, Z, labels, run key): fold 1's QMTL head and the first ``n_samples`` test samples."""
    head, z, labels, key = load_checkpoint(cache, profile, benchmark, "qmtl")
    if n_samples is not None:
        z, labels = z[:n_samples], labels[:n_samples]
    return head, z, labels, key


def profile_meta(profile: dict) -> dict:
    """What a study's cache entries record about the profile that made them."""
    return {"profile": profile["name"], "is_demo": profile["is_demo"]}
