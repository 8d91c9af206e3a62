"""Depolarizing noise on a trained QMTL head (§6.3, Fig. 10, ``05_noise``): fold 1's CheXpert head
read out under depolarizing noise ``p`` on every gate (:mod:`qmtl_utils.quantum.noise`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from qmtl_utils.quantum import noise
from qmtl_utils.runtime.cache import Cache, Entry, code_fingerprint, write_csv, write_json
from qmtl_utils.studies.benchmark_runs import CHECKPOINT_BENCHMARK, checkpoint_inputs, expval_metric_rows, profile_meta


def noise_study(cache: Cache, profile: dict, compute: bool = True) -> Entry:
    """Fold 1's CheXpert QMTL head under depolarizing noise (stage ``noise_chexpert``, Fig. 10).

    ``noise.csv``: per level (``exact`` readout, ``p = 0`` with shots, then each ``p``), task and
    metric; ``levels.csv``: per level the Aer run's shots, measurement settings, transpiled depth,
    two-qubit gates, wall time and seconds per 100 samples. Each level is its own cache entry
    (stage ``noise_level``), so an interrupted study resumes.
    """
    settings = profile["noise"]
    head, z, labels, run_key = checkpoint_inputs(cache, profile, CHECKPOINT_BENCHMARK, settings["n_samples"])
    code, meta = code_fingerprint(__name__), profile_meta(profile)
    levels, upstream = [0.0, *settings["levels"]], [run_key]
    for p in levels:
        def write_level(folder, p=p):
            values, info = noise.aer_expectation_values(head, z, p, settings["shots"], settings["seed"])
            np.save(folder / "expvals.npy", values)
            write_json(info, folder / "info.json")
            print(f"[noise] p = {p}: {len(z)} samples in {info['wall_s']:.1f} s", flush=True)

        upstream.append(cache.fetch("noise_level", {"p": p, **settings}, write_level, compute=compute,
                                    upstream=[run_key], code_version=code, meta=meta).key)

    def write(folder):
        with torch.no_grad():
            exact = head.expectation_values(torch.from_numpy(z).double()).numpy()
        rows = expval_metric_rows(CHECKPOINT_BENCHMARK, head, exact, labels, level="exact", p=0.0, shots=np.inf)
        infos = []
        for p, key in zip(levels, upstream[1:]):
            entry = cache.get("noise_level", key)
            info = entry.read_json("info.json")
            infos.append({**info, "s_per_100_samples": round(100 * info["wall_s"] / max(info["n_samples"], 1), 2)})
            rows += expval_metric_rows(CHECKPOINT_BENCHMARK, head, np.load(entry.file("expvals.npy")), labels,
                                       level=f"p={p:g}", p=p, shots=settings["shots"])
        write_csv(pd.DataFrame(rows), folder / "noise.csv")
        write_csv(pd.DataFrame(infos), folder / "levels.csv")

    return cache.fetch("noise_chexpert", settings, write, compute=compute, upstream=upstream, code_version=code,
                       meta=meta)
