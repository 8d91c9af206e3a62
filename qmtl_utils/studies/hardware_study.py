"""A trained QMTL head on IBM Quantum devices or their calibration snapshots (§7, Fig. 11,
``06_hardware``; :mod:`qmtl_utils.quantum.hardware`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qmtl_utils.quantum import aer_noise, hardware
from qmtl_utils.runtime.cache import Cache, Entry, write_csv
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.studies import noise_study
from qmtl_utils.studies.benchmark_runs import CHECKPOINT_BENCHMARK, checkpoint_inputs, expval_metric_rows, profile_meta


def hardware_study(
    cache: Cache, profile: dict, mode: str = "fake", backends=None, submit: bool = False, compute: bool = True
) -> Entry:
    """Fold 1's CheXpert QMTL head on IBM Quantum backends (stage ``hardware_chexpert``, Fig. 11).

    ``mode="fake"`` (default) runs each backend's calibration snapshot locally; ``mode="ibm"``
    runs the devices and needs ``submit=True`` (:func:`qmtl_utils.quantum.hardware.run_on_backend`).
    Without it, one :class:`~qmtl_utils.quantum.hardware.SubmissionNotRequested` for all backends
    whose jobs are not recorded yet, its ``plan`` keyed by backend, made offline on the calibration
    snapshots (no network needed).
    Every job is recorded (stage ``hardware_runs``); this table is rebuilt from the records.
    ``hardware.csv``: per backend (and the noiseless ``p = 0`` Aer reference with the same shots),
    task and metric; ``summary.csv``: the same with 95 % bootstrap intervals over the test samples
    (``settings["bootstrap"]`` replicates); ``jobs.csv``: one row per job record (job id, backend actually used,
    substitution, calibration time, depth, two-qubit gates, shots).
    """
    settings = {**profile["hardware"], "mode": mode}
    if backends:
        settings["backends"] = list(backends)
    head, z, labels, run_key = checkpoint_inputs(cache, profile, CHECKPOINT_BENCHMARK, settings["n_samples"])
    shots, seed = settings["shots"], settings["seed"]
    results, plans = {}, {}
    for name in settings["backends"]:
        call = hardware.run_on_backend if compute else hardware.load_recorded
        extra = {"submit": submit} if compute else {}
        try:
            results[name] = call(head, z, name, mode=mode, shots=shots, seed=seed, cache=cache, **extra)
        except hardware.SubmissionNotRequested as stop:  # plan every backend before stopping
            plans[name] = stop
    if plans:
        raise hardware.SubmissionNotRequested(
            "\n".join(f"{name}: {stop}" for name, stop in plans.items()), {name: stop.plan for name, stop in plans.items()}
        )

    def write(folder):
        reference, _ = aer_noise.aer_expectation_values(head, z, 0.0, shots, seed)
        rows = expval_metric_rows(
            CHECKPOINT_BENCHMARK, head, reference, labels, backend="noiseless simulator", requested="noiseless simulator"
        )
        jobs, estimates = [], {"noiseless simulator": reference[None]}
        for name, (values, records) in results.items():
            used = records[0]["backend"] + (" (stand-in)" if records[0]["substituted"] else "")
            rows += expval_metric_rows(CHECKPOINT_BENCHMARK, head, values, labels, backend=f"{name}: {used}", requested=name)
            jobs += records
            estimates[f"{name}: {used}"] = np.asarray(values)[None]
        write_csv(pd.DataFrame(rows), folder / "hardware.csv")
        write_csv(pd.DataFrame(jobs), folder / "jobs.csv")
        # 95 % intervals of every metric, F1 included (not a proportion: no Wilson interval), over
        # the test samples resampled with replacement; one draw serves every backend
        summary, _ = noise_study.bootstrap_summary(head, estimates, labels, settings["bootstrap"], seed)
        write_csv(summary.rename(columns={"level": "backend"}).drop(columns="shot_seed_std"), folder / "summary.csv")

    job_keys = [hardware.STAGE + ":" + r.get("job_id", "") for _, records in results.values() for r in records]
    params = {**settings, "jobs": job_keys}
    if compute:
        return cache.get_or_compute(
            "hardware_chexpert",
            params,
            write,
            upstream=[run_key],
            code_version=code_fingerprint(__name__),
            meta=profile_meta(profile),
        )
    return cache.lookup("hardware_chexpert", params, upstream=[run_key], code_version=code_fingerprint(__name__))
