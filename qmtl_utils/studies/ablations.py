"""The architecture ablations of §6.1–§6.2 on the CheXpert configuration (Figs. 8 and 9).

* **Depth (§6.1, Fig. 8):** encoder depth ``L ∈ {2, 3, 4}`` with ``L_h = 1``, and task depth
  ``L_h ∈ {1, 2, 3}`` with ``L = 3``. ``d = Q·L`` follows ``L`` (Eq. (12)), so the backbone's
  projection in front of the head changes with it.
* **Entanglement (§6.2, Fig. 9):** the paper's model with every encoder CNOT removed: the same
  parameter count, a product-state encoder.

Each configuration is trained with the CheXpert protocol on every fold of the profile through
:func:`qmtl_utils.studies.benchmark_runs.run_benchmark` (so the paper's configuration, ``L = 3, L_h = 1``,
is the run of the training notebook, read back from the cache). The table written here,
``ablations.csv`` (stage ``ablations_chexpert``), has one row per (configuration, fold, task,
metric) with the head's measured parameter count.
"""

from __future__ import annotations

import pandas as pd

from qmtl_utils.models.factory import make_head
from qmtl_utils.models.params import count_trainable
from qmtl_utils.runtime import executor
from qmtl_utils.runtime.cache import Cache, Entry, write_csv
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.spec import benchmark_spec
from qmtl_utils.studies import benchmark_runs

BENCHMARK = "chexpert"

# (study, label, overrides of the paper's CheXpert configuration)
CONFIGURATIONS: tuple[tuple[str, str, dict], ...] = (
    ("encoder depth", "L=2, L_h=1", {"n_layers": 2}),
    ("encoder depth", "L=3, L_h=1", {}),
    ("encoder depth", "L=4, L_h=1", {"n_layers": 4}),
    ("task depth", "L=3, L_h=1", {}),
    ("task depth", "L=3, L_h=2", {"head_layers": 2}),
    ("task depth", "L=3, L_h=3", {"head_layers": 3}),
    ("entanglement", "with CNOTs", {}),
    ("entanglement", "no CNOTs", {"entangle": False}),
)


def _params(profile: dict) -> dict:
    return {"configurations": [[s, label, o] for s, label, o in CONFIGURATIONS], "settings": profile["training"][BENCHMARK]}


def run_ablations(cache: Cache, profile: dict) -> Entry:
    """Train (or read back) the QMTL head of every configuration on every fold; write ``ablations.csv``."""
    frames, upstream, done = [], [], {}
    configurations = list({tuple(sorted(o.items())): o for _, _, o in CONFIGURATIONS}.values())
    executor.prefetch(
        cache,
        [
            unit
            for o in configurations  # every fold of every configuration at once
            for unit in benchmark_runs.benchmark_units(cache, profile, BENCHMARK, ("qmtl",), o or None)
        ],
    )
    for study, label, overrides in CONFIGURATIONS:
        key = tuple(sorted(overrides.items()))
        if key not in done:
            print(f"[ablations] {study}: {label}", flush=True)
            done[key] = benchmark_runs.run_benchmark(
                cache, profile, BENCHMARK, variants=("qmtl",), spec_overrides=overrides or None
            )
        entry = done[key]
        upstream.append(entry.key)
        spec = benchmark_spec(BENCHMARK, overrides)
        metrics = entry.read_csv("metrics.csv")
        metrics.insert(0, "head_params", count_trainable(make_head(spec, "qmtl")))
        for name, value in (
            ("entangle", spec.entangle),
            ("head_layers", spec.head_layers),
            ("n_layers", spec.n_layers),
            ("configuration", label),
            ("study", study),
        ):
            metrics.insert(0, name, value)
        frames.append(metrics.drop(columns=["variant", "label"]))
    table = pd.concat(frames, ignore_index=True)
    return cache.get_or_compute(
        "ablations_chexpert",
        _params(profile),
        lambda folder: write_csv(table, folder / "ablations.csv"),
        upstream=upstream,
        code_version=code_fingerprint(__name__),
        meta=benchmark_runs.profile_meta(profile),
    )


def ablations_entry(cache: Cache, profile: dict) -> Entry:
    """Look up the ablation table (no training): what the figures notebook reads."""
    keys = {}
    for _, _, overrides in CONFIGURATIONS:
        config = tuple(sorted(overrides.items()))
        if config not in keys:
            keys[config] = benchmark_runs.results_entry(
                cache, profile, BENCHMARK, variants=("qmtl",), spec_overrides=overrides or None
            ).key
    upstream = [keys[tuple(sorted(o.items()))] for _, _, o in CONFIGURATIONS]
    return cache.lookup("ablations_chexpert", _params(profile), upstream=upstream, code_version=code_fingerprint(__name__))


# the columns that identify one (configuration, fold) row of the ablation table
RUN_COLUMNS = ["study", "configuration", "n_layers", "head_layers", "entangle", "head_params", "replicate"]
