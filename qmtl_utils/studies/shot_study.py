"""The shot budget of a trained QMTL head (beyond the paper, ``04a``): per-task metrics of fold 1's
head vs shots per measurement setting, sampled exactly (:mod:`qmtl_utils.quantum.shots`)."""

from __future__ import annotations

import torch

from qmtl_utils.quantum import shots
from qmtl_utils.runtime.cache import Cache, Entry, MissingCacheEntry, write_csv, write_json
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.studies.benchmark_runs import checkpoint_inputs, evaluate_outputs, profile_meta


def shot_budget(cache: Cache, profile: dict, benchmark: str, compute: bool = True) -> Entry:
    """Per-task metrics of fold 1's QMTL head vs shots per measurement setting (stage ``shot_budget``).

    ``shots.csv``: the columns of :func:`qmtl_utils.quantum.shots.shot_sweep` (exact readout as
    ``shots = inf``); ``info.json``: measurement settings per prediction, test samples, observables.
    """
    settings = profile["shot_budget"]
    try:
        head, z, labels, run_key = checkpoint_inputs(cache, profile, benchmark, settings["n_samples"])
    except MissingCacheEntry as error:
        raise MissingCacheEntry(f"the shot study needs the trained {benchmark} heads: {error}") from None
    params = {"benchmark": benchmark, **{k: v for k, v in settings.items() if k != "benchmarks"}}

    def write(folder):
        table = shots.shot_sweep(
            head,
            torch.from_numpy(z).double(),
            labels,
            settings["shots_per_setting"],
            settings["seeds"],
            lambda out, y: evaluate_outputs(benchmark, out, y),
        )
        write_csv(table, folder / "shots.csv")
        write_json(
            {
                "benchmark": benchmark,
                "measurement_settings": shots.measurement_settings(head.config),
                "n_samples": int(len(z)),
                "observables": [list(w) for w in head.config.observables],
                "groups_per_task": [[list(g) for g in groups] for groups in shots.task_groups(head.config)],
            },
            folder / "info.json",
        )

    if compute:
        return cache.get_or_compute(
            "shot_budget", params, write, upstream=[run_key], code_version=code_fingerprint(__name__), meta=profile_meta(profile)
        )
    return cache.lookup("shot_budget", params, upstream=[run_key], code_version=code_fingerprint(__name__))
