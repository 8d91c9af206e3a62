"""The per-benchmark experiments of §5: every head variant, every seed or fold, cached run by run.

Each run (benchmark, head variant, seed or fold) is one entry of the content-keyed cache, keyed by
the training settings, the dataset it used and the code; a run that was already done is read back,
so an interrupted notebook resumes where it stopped. :func:`run_benchmark` trains what is missing
and writes the benchmark's result tables (stage ``results_<benchmark>``): ``metrics.csv`` in long
format (variant, replicate, task, metric, value) and ``runs.csv`` (best epoch, wall time, head
parameters, backbone actually used, profile). The figures notebook reads them with
:func:`results_entry` (``compute=False``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import datasets
from .benchmarks import BENCHMARKS, HEAD_VARIANTS
from .cache import Cache, Entry, code_fingerprint, write_csv
from .params import count_trainable, variant_label

PRODUCER = "notebooks/03_training.ipynb"
CODE = ("qmtl_utils.experiments", "qmtl_utils.heads", "qmtl_utils.simulator", "qmtl_utils.observables",
        "qmtl_utils.losses", "qmtl_utils.metrics", "qmtl_utils.training.common", "qmtl_utils.training.glue",
        "qmtl_utils.training.chexpert", "qmtl_utils.training.mustard", "qmtl_utils.backbones.glue",
        "qmtl_utils.backbones.chexpert", "qmtl_utils.backbones.mustard", "qmtl_utils.benchmarks")


def _code() -> str:
    return code_fingerprint(*CODE)


def _metric_rows(per_task: dict, metric_names=("accuracy", "precision", "recall", "f1")) -> list[dict]:
    return [{"task": task, "metric": name, "value": float(values[name])}
            for task, values in per_task.items() for name in metric_names]


# --------------------------------------------------------------------------- one run per benchmark


def _glue_run(settings: dict, variant: str, seed: int, tokens: dict, encoder_info: dict) -> tuple[list, dict]:
    from .backbones.glue import GlueBackbone
    from .training import MultiTaskModel, train_glue

    spec = BENCHMARKS["glue"]
    torch.manual_seed(seed)
    model = MultiTaskModel(GlueBackbone(encoder_hidden=encoder_info["hidden_size"], d=spec.d), spec.make_head(variant))
    result = train_glue(model, tokens, {t.name: t.kind for t in spec.tasks}, {**settings["train"], "seed": seed})
    rows = []
    for task, values in result["metrics"].items():
        primary, secondary = values["names"]
        rows += [{"task": task, "metric": f"primary:{primary}", "value": values["primary"]},
                 {"task": task, "metric": f"secondary:{secondary}", "value": values["secondary"]}]
    return rows, {"best_epoch": result["best_epoch"], "backbone": encoder_info["encoder"],
                  "head_params": count_trainable(model.head)}


def _chexpert_run(settings: dict, variant: str, fold: int, frame, root: Path, folds) -> tuple[list, dict]:
    from torch.utils.data import DataLoader

    from .backbones.chexpert import ChexpertBackbone
    from .data.chexpert import ChexpertDataset
    from .training import MultiTaskModel, train_chexpert

    spec, n = BENCHMARKS["chexpert"], len(folds)
    test, val = folds[fold], folds[(fold + 1) % n]
    train = np.setdiff1d(np.arange(len(frame)), np.concatenate([test, val]))
    size = settings["image_size"]
    batch = settings["batch_size_hqnn"] if variant.startswith("hqnn") else settings["batch_size"]
    generator = torch.Generator().manual_seed(fold)

    def loader(rows, shuffle: bool, augment: bool) -> DataLoader:
        data = ChexpertDataset(frame.iloc[rows], root, image_size=size, train=augment)
        return DataLoader(data, batch_size=batch, shuffle=shuffle, generator=generator if shuffle else None)

    torch.manual_seed(fold)
    backbone = ChexpertBackbone(d=spec.d, pretrained=settings["pretrained"], allow_download=settings["allow_download"])
    model = MultiTaskModel(backbone, spec.make_head(variant))
    result = train_chexpert(model, loader(train, True, True), loader(val, False, False), loader(test, False, False),
                            {**settings["train"], "seed": fold})
    return _metric_rows(result["test"]), {"best_epoch": result["best_epoch"], "backbone": f"densenet121 ({backbone.weights})",
                                          "head_params": count_trainable(model.head)}


def _mustard_run(settings: dict, variant: str, fold: int, features, labels, folds) -> tuple[list, dict]:
    from .backbones.mustard import MustardProjection
    from .training import MultiTaskModel, train_mustard
    from .training.mustard import validation_split

    spec = BENCHMARKS["mustard"]
    test = folds[fold]
    train_val = np.setdiff1d(np.arange(len(features)), test)
    train, val = validation_split(train_val, settings["validation_fraction"], fold, strata=labels[train_val, 0])
    torch.manual_seed(fold)
    projection = MustardProjection.for_head(variant, features.shape[1], d=spec.d)
    model = MultiTaskModel(projection, spec.make_head(variant))
    weight = settings["qmtl_task_weight"] if variant == "qmtl" else 1.0  # Appendix C.3
    result = train_mustard(model, torch.from_numpy(features), torch.from_numpy(labels), train, val, test,
                           {**settings["train"], "seed": fold, "task_weight": weight})
    return _metric_rows(result["test"]), {"best_epoch": result["best_epoch"], "backbone": "dense projection",
                                          "head_params": count_trainable(model.head)}


# --------------------------------------------------------------------------- orchestration


def _inputs(cache: Cache, profile: dict, benchmark: str) -> tuple[Entry, dict]:
    """The dataset entry a benchmark's runs depend on, and the arguments of its run function."""
    data = profile["data"][benchmark]
    if benchmark == "glue":
        from .backbones.glue import cached_token_features, load_text_encoder

        entry = datasets.glue_dataset(cache, data)
        encoder = load_text_encoder(data["encoder"], fallback=data["fallback_encoder"])
        tokens = cached_token_features(cache, datasets.read_glue(entry), data["encoder"], data["max_length"],
                                       fallback=data["fallback_encoder"], encoder=encoder)
        return entry, {"tokens": tokens, "encoder_info": encoder[2]}
    if benchmark == "chexpert":
        entry = datasets.chexpert_dataset(cache, data)
        frame, root, folds = datasets.read_chexpert(entry)
        return entry, {"frame": frame, "root": root, "folds": folds}
    entry = datasets.mustard_dataset(cache, data)
    features, labels, folds = datasets.read_mustard(entry)
    label_matrix = labels[[t.name for t in BENCHMARKS["mustard"].tasks]].to_numpy()
    return entry, {"features": features.astype(np.float32), "labels": label_matrix, "folds": folds}


_RUNNERS = {"glue": _glue_run, "chexpert": _chexpert_run, "mustard": _mustard_run}


def run_benchmark(cache: Cache, profile: dict, benchmark: str, variants=HEAD_VARIANTS) -> Entry:
    """Train every (variant, replicate) not yet in the cache, then write the result tables.

    ``profile['training'][benchmark]`` holds ``replicates`` (seeds for GLUE, fold indices
    otherwise) and the protocol settings. Prints one line per run with an ETA.
    """
    settings = profile["training"][benchmark]
    data_entry, inputs = _inputs(cache, profile, benchmark)
    jobs = [(v, r) for v in variants for r in settings["replicates"]]
    run_keys, frames, runs, started = [], [], [], time.perf_counter()
    for done, (variant, replicate) in enumerate(jobs):
        entry = cache.get_or_compute(
            f"run_{benchmark}", {"variant": variant, "replicate": replicate, "settings": settings},
            lambda folder, v=variant, r=replicate: _write_run(folder, benchmark, settings, v, r, inputs, profile["name"]),
            upstream=[data_entry.key], code_version=_code())
        run_keys.append(entry.key)
        frames.append(entry.read_csv("metrics.csv"))
        runs.append(entry.read_json("run.json"))
        elapsed = time.perf_counter() - started
        print(f"[{benchmark}] run {done + 1}/{len(jobs)} ({variant}, replicate {replicate}) ready; "
              f"{elapsed:.0f} s so far", flush=True)

    def write(folder: Path) -> None:
        write_csv(pd.concat(frames, ignore_index=True), folder / "metrics.csv")
        write_csv(pd.DataFrame(runs), folder / "runs.csv")

    params = {"variants": list(variants), "settings": settings}
    return cache.get_or_compute(f"results_{benchmark}", params, write, upstream=run_keys, code_version=_code(),
                                meta={"profile": profile["name"], "is_demo": profile["is_demo"]})


def _write_run(folder: Path, benchmark: str, settings: dict, variant: str, replicate: int, inputs: dict,
               profile_name: str) -> None:
    from .cache import write_json

    start = time.perf_counter()
    rows, info = _RUNNERS[benchmark](settings, variant, replicate, **inputs)
    spec = BENCHMARKS[benchmark]
    frame = pd.DataFrame(rows)
    frame.insert(0, "replicate", replicate)
    frame.insert(0, "label", variant_label(variant, spec.n_qubits))
    frame.insert(0, "variant", variant)
    write_csv(frame, folder / "metrics.csv")
    write_json({"variant": variant, "replicate": replicate, "wall_s": round(time.perf_counter() - start, 2),
                "profile": profile_name, **info}, folder / "run.json")


def results_entry(cache: Cache, profile: dict, benchmark: str, variants=HEAD_VARIANTS) -> Entry:
    """Look up a benchmark's result tables (no training): what the figures notebook reads."""
    settings = profile["training"][benchmark]
    data_entry_fn = {"glue": datasets.glue_dataset, "chexpert": datasets.chexpert_dataset,
                     "mustard": datasets.mustard_dataset}[benchmark]
    data_key = data_entry_fn(cache, profile["data"][benchmark]).key
    run_keys = []
    for variant in variants:
        for replicate in settings["replicates"]:
            run = cache.lookup(f"run_{benchmark}", {"variant": variant, "replicate": replicate, "settings": settings},
                               upstream=[data_key], code_version=_code(), producer=PRODUCER)
            run_keys.append(run.key)
    return cache.lookup(f"results_{benchmark}", {"variants": list(variants), "settings": settings},
                        upstream=run_keys, code_version=_code(), producer=PRODUCER)
