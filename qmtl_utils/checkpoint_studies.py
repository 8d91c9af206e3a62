"""Studies that evaluate the first fold's trained QMTL head without retraining, each cached.

Every study starts from :func:`qmtl_utils.experiments.load_checkpoint` — the head trained on fold 1
and its test fold's shared features ``Z`` — and changes only how the head's expectation values are
obtained:

* :func:`shot_budget` (beyond the paper, ``04a``): finite shots per measurement setting, sampled
  exactly (:mod:`qmtl_utils.shots`);
* :func:`noise_study` (§6.3, ``05``): Qiskit Aer with depolarizing noise ``p`` on every gate
  (:mod:`qmtl_utils.noise`);
* :func:`hardware_study` (§7, ``06``): IBM Quantum devices or their calibration snapshots
  (:mod:`qmtl_utils.hardware`).

Each writes a tidy table (``task, metric, value`` plus the study's own columns) under its own cache
stage, read back by the figures notebook with ``compute=False``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from . import experiments
from .cache import Cache, Entry, MissingCacheEntry, code_fingerprint, write_csv, write_json

SHOTS_PRODUCER = "notebooks/04a_task_scaling_and_shots.ipynb"
NOISE_PRODUCER = "notebooks/05_noise.ipynb"
HARDWARE_PRODUCER = "notebooks/06_hardware.ipynb"
NOISE_BENCHMARK = "chexpert"  # §6.3 and §7 evaluate the CheXpert head


def _checkpoint_inputs(cache: Cache, profile: dict, benchmark: str, n_samples: int | None):
    """(head, Z, labels, upstream key): fold 1's QMTL head and the first ``n_samples`` test samples."""
    head, z, labels, key = experiments.load_checkpoint(cache, profile, benchmark, "qmtl")
    if n_samples is not None:
        z, labels = z[:n_samples], labels[:n_samples]
    return head, z, labels, key


def _code(*modules: str) -> str:
    return code_fingerprint("qmtl_utils.checkpoint_studies", "qmtl_utils.experiments", "qmtl_utils.heads", *modules)


def _get(cache: Cache, stage: str, params: dict, write, upstream: list[str], code: str, compute: bool,
         producer: str, profile: dict) -> Entry:
    if compute:
        return cache.get_or_compute(stage, params, write, upstream=upstream, code_version=code,
                                    meta={"profile": profile["name"], "is_demo": profile["is_demo"]})
    return cache.lookup(stage, params, upstream=upstream, code_version=code, producer=producer)


# --------------------------------------------------------------------------- shots (beyond the paper)


def shot_budget(cache: Cache, profile: dict, benchmark: str, compute: bool = True) -> Entry:
    """Per-task metrics of fold 1's QMTL head vs shots per measurement setting (stage ``shot_budget``).

    ``shots.csv``: the columns of :func:`qmtl_utils.shots.shot_sweep` (exact readout as
    ``shots = inf``); ``info.json``: measurement settings per prediction, test samples, observables.
    """
    from . import shots

    settings = profile["shot_budget"]
    try:
        head, z, labels, run_key = _checkpoint_inputs(cache, profile, benchmark, settings["n_samples"])
    except MissingCacheEntry as error:
        raise MissingCacheEntry(f"the shot study needs the trained {benchmark} heads: {error}") from None
    params = {"benchmark": benchmark, **{k: v for k, v in settings.items() if k != "benchmarks"}}

    def write(folder):
        table = shots.shot_sweep(head, torch.from_numpy(z).double(), labels, settings["shots_per_setting"],
                                 settings["seeds"], lambda out, y: experiments.evaluate_outputs(benchmark, out, y))
        write_csv(table, folder / "shots.csv")
        write_json({"benchmark": benchmark, "measurement_settings": shots.measurement_settings(head.config),
                    "n_samples": int(len(z)), "observables": [list(w) for w in head.config.observables],
                    "groups_per_task": [[list(g) for g in groups] for groups in shots.task_groups(head.config)]},
                   folder / "info.json")

    return _get(cache, "shot_budget", params, write, [run_key], _code("qmtl_utils.shots"), compute,
                SHOTS_PRODUCER, profile)


# --------------------------------------------------------------------------- depolarizing noise (§6.3)


def _metric_rows(benchmark: str, head, expvals: np.ndarray, labels: np.ndarray, **columns) -> list[dict]:
    with torch.no_grad():
        outputs = head.outputs_from_expvals(torch.as_tensor(expvals, dtype=torch.float64))
    metrics = experiments.evaluate_outputs(benchmark, outputs, labels)
    return [{**columns, "task": task, "metric": name, "value": float(value)}
            for task, values in metrics.items() for name, value in values.items()]


def noise_study(cache: Cache, profile: dict, compute: bool = True) -> Entry:
    """Fold 1's CheXpert QMTL head under depolarizing noise (stage ``noise_chexpert``, Fig. 10).

    ``noise.csv``: per level (``exact`` readout, ``p = 0`` with shots, then each ``p``), task and
    metric; ``levels.csv``: per level the Aer run's shots, measurement settings, transpiled depth,
    two-qubit gates, wall time and seconds per 100 samples. Each level is its own cache entry
    (stage ``noise_level``), so an interrupted study resumes.
    """
    from . import noise

    settings = profile["noise"]
    head, z, labels, run_key = _checkpoint_inputs(cache, profile, NOISE_BENCHMARK, settings["n_samples"])
    code = _code("qmtl_utils.noise", "qmtl_utils.qiskit_circuits")
    levels, upstream = [0.0, *settings["levels"]], [run_key]
    for p in levels:
        def write_level(folder, p=p):
            values, info = noise.aer_expectation_values(head, z, p, settings["shots"], settings["seed"])
            np.save(folder / "expvals.npy", values)
            write_json(info, folder / "info.json")
            print(f"[noise] p = {p}: {len(z)} samples in {info['wall_s']:.1f} s", flush=True)

        upstream.append(_get(cache, "noise_level", {"p": p, **settings}, write_level, [run_key], code, compute,
                             NOISE_PRODUCER, profile).key)

    def write(folder):
        with torch.no_grad():
            exact = head.expectation_values(torch.from_numpy(z).double()).numpy()
        rows, infos = _metric_rows(NOISE_BENCHMARK, head, exact, labels, level="exact", p=0.0, shots=np.inf), []
        for p, key in zip(levels, upstream[1:]):
            entry = cache.get("noise_level", key)
            info = entry.read_json("info.json")
            infos.append({**info, "s_per_100_samples": round(100 * info["wall_s"] / max(info["n_samples"], 1), 2)})
            rows += _metric_rows(NOISE_BENCHMARK, head, np.load(entry.file("expvals.npy")), labels,
                                 level=f"p={p:g}", p=p, shots=settings["shots"])
        write_csv(pd.DataFrame(rows), folder / "noise.csv")
        write_csv(pd.DataFrame(infos), folder / "levels.csv")

    return _get(cache, "noise_chexpert", settings, write, upstream, code, compute, NOISE_PRODUCER, profile)


# --------------------------------------------------------------------------- hardware (§7)


def hardware_study(cache: Cache, profile: dict, mode: str = "fake", backends=None, submit: bool = False,
                   compute: bool = True) -> Entry:
    """Fold 1's CheXpert QMTL head on IBM Quantum backends (stage ``hardware_chexpert``, Fig. 11).

    ``mode="fake"`` (default) runs each backend's calibration snapshot locally; ``mode="ibm"``
    runs the devices and needs ``submit=True`` (:func:`qmtl_utils.hardware.run_on_backend`).
    Every job is recorded (stage ``hardware_runs``); this table is rebuilt from the records.
    ``hardware.csv``: per backend (and the noiseless ``p = 0`` Aer reference with the same shots),
    task and metric; ``jobs.csv``: one row per job record (job id, backend actually used,
    substitution, calibration time, depth, two-qubit gates, shots).
    """
    from . import hardware, noise

    settings = {**profile["hardware"], "mode": mode}
    if backends:
        settings["backends"] = list(backends)
    head, z, labels, run_key = _checkpoint_inputs(cache, profile, NOISE_BENCHMARK, settings["n_samples"])
    shots, seed = settings["shots"], settings["seed"]
    results = {}
    for name in settings["backends"]:
        call = hardware.run_on_backend if compute else hardware.load_recorded
        extra = {"submit": submit} if compute else {}
        results[name] = call(head, z, name, mode=mode, shots=shots, seed=seed, cache=cache, **extra)
    code = _code("qmtl_utils.noise", "qmtl_utils.qiskit_circuits", "qmtl_utils.hardware")

    def write(folder):
        reference, _ = noise.aer_expectation_values(head, z, 0.0, shots, seed)
        rows = _metric_rows(NOISE_BENCHMARK, head, reference, labels, backend="noiseless simulator",
                            requested="noiseless simulator")
        jobs = []
        for name, (values, records) in results.items():
            used = records[0]["backend"] + (" (stand-in)" if records[0]["substituted"] else "")
            rows += _metric_rows(NOISE_BENCHMARK, head, values, labels, backend=f"{name}: {used}", requested=name)
            jobs += records
        write_csv(pd.DataFrame(rows), folder / "hardware.csv")
        write_csv(pd.DataFrame(jobs), folder / "jobs.csv")

    job_keys = [hardware.STAGE + ":" + r.get("job_id", "") for _, records in results.values() for r in records]
    params = {**settings, "jobs": job_keys}
    return _get(cache, "hardware_chexpert", params, write, [run_key], code, compute, HARDWARE_PRODUCER, profile)


def mean_over_tasks(table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Each metric averaged over tasks (NaN tasks skipped), per ``by`` group."""
    return table.groupby(by + ["metric"], dropna=False).value.agg(lambda v: float(np.nanmean(v))).reset_index()
