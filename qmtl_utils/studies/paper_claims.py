"""The paper's claims of §5.2 against this profile's results (beyond the paper; notebook
``03b_paper_claims``, stage ``claims``).

Reads the result tables of ``03_training`` (``results_<benchmark>``) and their signal tests
(``references_<benchmark>``) for every benchmark the profile ran, and writes ``claims.csv`` (one row
per claim, benchmark and, where the claim is per task, task: :func:`~qmtl_utils.report.claims.claims_table`)
and ``summary.csv`` (one verdict per claim and benchmark). The decision rules and the margin are in
:mod:`qmtl_utils.report.claims`; ``07_figures`` copies the table beside the figures.
"""

from __future__ import annotations

import pandas as pd

from qmtl_utils.report.claims import claim_summary, claims_table
from qmtl_utils.runtime.cache import Cache, Entry, write_csv
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.runtime.profiles import missing_benchmarks
from qmtl_utils.studies import benchmark_runs, references

BENCHMARKS = ("glue", "chexpert", "mustard")


def setup_differences(profile: dict) -> dict[str, str]:
    """``{benchmark: how the profile's setup differs from the paper's}``, for each claim row: the
    profile's ``claims.differences`` plus, for GLUE, the tasks left out (``glue_tasks``)."""
    out = dict(profile.get("claims", {}).get("differences", {}))
    tasks = profile["data"]["glue"].get("tasks", "all")
    if tasks != "all":
        out["glue"] = "; ".join(filter(None, [out.get("glue", ""), f"only {', '.join(tasks)} (glue_tasks)"]))
    return out


def claims(cache: Cache, profile: dict, *, compute: bool = True) -> Entry:
    """Stage ``claims``: ``claims.csv`` and ``summary.csv`` from the cached results of every benchmark
    the profile ran (an optional benchmark without data is a row "not run: <why>")."""
    not_run = {b: "its data is not here (optional under this profile; see 00_data_prep)" for b in missing_benchmarks(profile)}
    ran = [b for b in BENCHMARKS if b not in not_run]
    results = {b: benchmark_runs.results_entry(cache, profile, b) for b in ran}
    refs = {b: references.baselines_and_ceilings(cache, profile, b, compute=False) for b in ran}

    def write(folder) -> None:
        table = claims_table(
            {b: e.read_csv("metrics.csv") for b, e in results.items()},
            profile["claims"]["margin"],
            signal={b: e.read_csv("signal.csv") for b, e in refs.items()},
            not_run=not_run,
            differences=setup_differences(profile),
        )
        write_csv(table, folder / "claims.csv")
        write_csv(claim_summary(table), folder / "summary.csv")

    params = {"margin": profile["claims"]["margin"], "not_run": sorted(not_run), "differences": setup_differences(profile)}
    upstream, code = [e.key for e in (*results.values(), *refs.values())], code_fingerprint(__name__)
    if compute:
        return cache.get_or_compute(
            "claims", params, write, upstream=upstream, code_version=code, meta=benchmark_runs.profile_meta(profile)
        )
    return cache.lookup("claims", params, upstream=upstream, code_version=code)


def verdict_sentences(summary: pd.DataFrame) -> list[str]:
    """One sentence per claim and benchmark: the verdict, and where it does not hold, on which tasks."""
    out = []
    for row in summary.itertuples():
        where = f" (not on {row.tasks_not_holding})" if row.tasks_not_holding else ""
        out.append(f"{row.benchmark}: {row.words}: {row.verdict}{where}")
    return out
