"""Depolarizing noise on a trained QMTL head (§6.3, Fig. 10, ``05_noise``): fold 1's CheXpert head
read out under depolarizing noise ``p`` on every gate, on the whole test fold.

Each level's expectation values are computed exactly under noise by
:func:`qmtl_utils.quantum.exact_noise.noisy_expectation_values` (verified against Qiskit Aer's
density-matrix simulator in tests/test_exact_noise.py, thousands of times faster), and ``shots`` shots
per measurement setting are drawn from the exact outcome distributions, once per shot seed
(:func:`~qmtl_utils.quantum.exact_noise.noisy_sample_expvals`), as a device would read them. The
uncertainty of every reported metric combines both sources of variation: a bootstrap that
resamples the test samples and picks a shot seed at random in each replicate.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from qmtl_utils.quantum import exact_noise, shots
from qmtl_utils.report.stats import percentile_interval
from qmtl_utils.runtime import executor
from qmtl_utils.runtime.cache import Cache, Entry, write_csv, write_json
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.studies.benchmark_runs import (
    CHECKPOINT_BENCHMARK,
    checkpoint_inputs,
    evaluate_outputs,
    expval_metric_rows,
    profile_meta,
)

METRICS = ("accuracy", "precision", "recall", "f1")


def _level_name(p: float) -> str:
    return f"p={p:g}"


def evaluate_level(head, z: np.ndarray, p: float, settings: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """(exact noisy expectation values ``(N, Σ r_t)``, finite-shot estimates ``(K, N, Σ r_t)`` for the
    ``K = shot_seeds`` seeds ``seed, seed + 1, …``, info) of one noise level."""
    features = torch.from_numpy(np.asarray(z)).double()
    start = time.perf_counter()
    with torch.no_grad():
        exact = exact_noise.noisy_expectation_values(head, features, p, settings["granularity"]).numpy()
    exact_s = time.perf_counter() - start
    with torch.no_grad():
        estimates = np.stack(
            [
                exact_noise.noisy_sample_expvals(
                    head, features, p, settings["shots"], settings["seed"] + k, settings["granularity"]
                ).numpy()
                for k in range(settings["shot_seeds"])
            ]
        )
    wall = time.perf_counter() - start
    info = {
        "p": p,
        "shots": settings["shots"],
        "shot_seeds": settings["shot_seeds"],
        "seed": settings["seed"],
        "granularity": settings["granularity"],
        "measurement_settings": shots.measurement_settings(head.config),
        "n_samples": int(len(features)),
        "method": "exact noisy path (qmtl_utils.quantum.exact_noise)",
        "exact_samples_per_s": round(len(features) / max(exact_s, 1e-9), 1),
        "wall_s": round(wall, 3),
    }
    return exact, estimates, info


def _per_sample_outputs(head, expvals: np.ndarray) -> list[np.ndarray]:
    with torch.no_grad():
        return [o.numpy() for o in head.outputs_from_expvals(torch.as_tensor(expvals, dtype=torch.float64))]


def _metrics(outputs: list[np.ndarray], labels: np.ndarray, rows: np.ndarray) -> dict:
    return evaluate_outputs(CHECKPOINT_BENCHMARK, [o[rows] for o in outputs], labels[rows])


def _defined(values) -> np.ndarray:
    """The values that are defined: a metric is NaN where a task has no evaluated test sample."""
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)]


def _mean_of_defined(values) -> float:
    """``np.nanmean`` without its empty-slice warning: NaN when no value is defined."""
    defined = _defined(values)
    return float(defined.mean()) if defined.size else float("nan")


def _std_of_defined(values) -> float:
    """``np.nanstd(ddof=1)`` without its warning: NaN when fewer than two values are defined."""
    defined = _defined(values)
    return float(defined.std(ddof=1)) if defined.size > 1 else float("nan")


def bootstrap_summary(
    head,
    estimates: dict[str, np.ndarray],
    labels: np.ndarray,
    replicates: int,
    seed: int,
    reference: str | None = None,
    compare: str | None = None,
    level: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean over shot seeds and ``level`` bootstrap intervals of every task metric, per noise level, and
    the paired difference ``compare − reference`` with its interval (no rows without both).

    ``estimates[level]`` is ``(K, N, Σ r_t)``. Each bootstrap replicate draws ``N`` test samples with
    replacement and one of the ``K`` shot seeds; the same draw serves every level, so differences
    between levels are paired.
    """
    labels = np.asarray(labels)
    outputs = {name: [_per_sample_outputs(head, e) for e in values] for name, values in estimates.items()}
    everyone = np.arange(len(labels))
    rng = np.random.default_rng(seed)
    draws = [(rng.integers(0, len(labels), len(labels)), rng.random()) for _ in range(replicates)]
    # replicate b reads shot seed floor(u_b K) of every level (K seeds): one draw, paired across levels
    boot = {
        name: [_metrics(per_seed[int(u * len(per_seed))], labels, rows) for rows, u in draws]
        for name, per_seed in outputs.items()
    }
    point = {name: [_metrics(o, labels, everyone) for o in per_seed] for name, per_seed in outputs.items()}
    mean = {
        name: {(task, metric): _mean_of_defined([m[task][metric] for m in values]) for task in values[0] for metric in METRICS}
        for name, values in point.items()
    }
    summary, deltas = [], []
    for name, values in point.items():
        for (task, metric), value in mean[name].items():
            per_seed = [m[task][metric] for m in values]
            low, high = percentile_interval([b[task][metric] for b in boot[name]], level)
            summary.append(
                {
                    "level": name,
                    "task": task,
                    "metric": metric,
                    "mean": value,
                    "shot_seed_std": _std_of_defined(per_seed),
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    for task, metric in mean[reference] if reference is not None and compare is not None else ():
        low, high = percentile_interval(
            [c[task][metric] - r[task][metric] for c, r in zip(boot[compare], boot[reference])], level
        )
        deltas.append(
            {
                "compare": compare,
                "reference": reference,
                "task": task,
                "metric": metric,
                "difference": mean[compare][task, metric] - mean[reference][task, metric],
                "ci_low": low,
                "ci_high": high,
                "excludes_zero": bool(low > 0 or high < 0),
            }
        )
    return pd.DataFrame(summary), pd.DataFrame(deltas)


def _write_level(folder, head, z: np.ndarray, p: float, settings: dict) -> None:
    """One ``noise_level`` entry: ``exact.npy``, ``shots.npy`` and ``info.json`` of level ``p``."""
    exact, estimates, info = evaluate_level(head, z, p, settings)
    np.save(folder / "exact.npy", exact)
    np.save(folder / "shots.npy", estimates)
    write_json(info, folder / "info.json")
    print(f"[noise] p = {p}: {len(z)} samples x {settings['shot_seeds']} shot seeds in {info['wall_s']:.1f} s", flush=True)


def _unit_level(folder, *, cache_root: str, profile: dict, p: float) -> None:
    """One noise level on an executor's worker: fold 1's head and test features read from the cache."""
    head, z, _, _ = checkpoint_inputs(Cache(cache_root), profile, CHECKPOINT_BENCHMARK, profile["noise"]["n_samples"])
    _write_level(folder, head, z, p, profile["noise"])


def noise_study(cache: Cache, profile: dict, compute: bool = True) -> Entry:
    """Fold 1's CheXpert QMTL head under depolarizing noise (stage ``noise_chexpert``, Fig. 10).

    Each level ``p ∈ {0, *levels}`` is its own cache entry (stage ``noise_level``: ``exact.npy``,
    ``shots.npy``, ``info.json``), so an interrupted study resumes. The table entry holds
    ``noise.csv`` (per level, readout ``exact`` or ``shots`` with its seed, task, metric, value;
    level ``exact`` is the noiseless infinite-shot readout), ``summary.csv`` (per level, task and
    metric: mean over shot seeds and the bootstrap interval over test samples and shot seeds),
    ``delta.csv`` (largest ``p`` minus ``p = 0``, paired, with its interval) and ``levels.csv``.
    """
    settings = profile["noise"]
    head, z, labels, run_key = checkpoint_inputs(cache, profile, CHECKPOINT_BENCHMARK, settings["n_samples"])
    code, meta = code_fingerprint(__name__), profile_meta(profile)
    levels, upstream = [0.0, *settings["levels"]], [run_key]
    if compute:
        executor.prefetch(
            cache,
            [
                executor.Unit(
                    "noise_level",
                    {"p": p, **settings},
                    _unit_level,
                    {"cache_root": str(cache.root), "profile": profile, "p": p},
                    upstream=(run_key,),
                    code_version=code,
                    meta=meta,
                    label=f"noise p={p:g}",
                )
                for p in levels
            ],
        )
    for p in levels:
        if compute:
            level = cache.get_or_compute(
                "noise_level",
                {"p": p, **settings},
                lambda folder, p=p: _write_level(folder, head, z, p, settings),
                upstream=[run_key],
                code_version=code,
                meta=meta,
            )
        else:
            level = cache.lookup("noise_level", {"p": p, **settings}, upstream=[run_key], code_version=code)
        upstream.append(level.key)

    def write(folder):
        with torch.no_grad():
            noiseless = head.expectation_values(torch.from_numpy(z).double()).numpy()
        rows = expval_metric_rows(CHECKPOINT_BENCHMARK, head, noiseless, labels, level="exact", p=0.0, readout="exact", seed=None)
        infos, estimates = [], {"exact": noiseless[None]}
        for p, key in zip(levels, upstream[1:]):
            entry = cache.get("noise_level", key)
            infos.append(entry.read_json("info.json"))
            name = _level_name(p)
            rows += expval_metric_rows(
                CHECKPOINT_BENCHMARK, head, np.load(entry.file("exact.npy")), labels, level=name, p=p, readout="exact", seed=None
            )
            estimates[name] = np.load(entry.file("shots.npy"))
            for k, values in enumerate(estimates[name]):
                rows += expval_metric_rows(
                    CHECKPOINT_BENCHMARK, head, values, labels, level=name, p=p, readout="shots", seed=settings["seed"] + k
                )
        summary, delta = bootstrap_summary(
            head,
            estimates,
            labels,
            settings["bootstrap"],
            settings["seed"],
            reference=_level_name(0.0),
            compare=_level_name(max(levels)),
        )
        write_csv(pd.DataFrame(rows), folder / "noise.csv")
        write_csv(summary, folder / "summary.csv")
        write_csv(delta, folder / "delta.csv")
        write_csv(pd.DataFrame(infos), folder / "levels.csv")

    if compute:
        return cache.get_or_compute("noise_chexpert", settings, write, upstream=upstream, code_version=code, meta=meta)
    return cache.lookup("noise_chexpert", settings, upstream=upstream, code_version=code)
