"""Print the results table of docs/results.md (its accuracy rows are the README's) from the cache:
per benchmark, the majority baseline, each head's mean over tasks with its 95 % CI over
replicates, the ceiling, and the signal criterion.

    QMTL_CACHE_DIR=... .venv/bin/python scripts/demo_table.py --profile demo
"""

from __future__ import annotations

import argparse

import pandas as pd

from qmtl_utils.report.stats import mean_ci_table
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.runtime.profiles import get_profile
from qmtl_utils.studies import benchmark_runs, references

HEADS = (("classical", "Classical"), ("hqnn4", "HQNN-4"), ("hqnnQ", "HQNN-Q"), ("qmtl", "QMTL"))
ROWS = (
    ("glue", "GLUE", "primary", "primary metric"),
    ("chexpert", "CheXpert", "accuracy", "accuracy"),
    ("chexpert", "CheXpert", "f1", "F1"),
    ("mustard", "Extended MUStARD", "accuracy", "accuracy"),
    ("mustard", "Extended MUStARD", "f1", "F1"),
)


def _select(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    return table[table.metric.str.startswith(metric + ":")] if metric == "primary" else table[table.metric == metric]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo")
    args = parser.parse_args()
    profile = get_profile(args.profile)
    cache = Cache.for_profile(args.profile)
    print("| demo benchmark | majority baseline | " + " | ".join(label for _, label in HEADS) + " | ceiling |")
    print("|---" * (len(HEADS) + 3) + "|")
    for benchmark, title, metric, name in ROWS:
        metrics = _select(benchmark_runs.results_entry(cache, profile, benchmark).read_csv("metrics.csv"), metric)
        refs = _select(
            references.baselines_and_ceilings(cache, profile, benchmark, compute=False).read_csv("references.csv"), metric
        )
        per_run = metrics.groupby(["variant", "replicate"]).value.mean().rename("value").reset_index()
        summary = mean_ci_table(per_run, by=["variant"]).set_index("variant")
        cells = [
            f"{summary.loc[v, 'mean']:.3f} [{summary.loc[v, 'ci_low']:.3f}, {summary.loc[v, 'ci_high']:.3f}]" for v, _ in HEADS
        ]
        ref = refs.groupby("reference").value.mean()
        fmt = lambda r: f"{ref[r]:.3f}" if r in ref else "—"  # noqa: E731
        print(
            f"| {title}, {name} (mean of {metrics.task.nunique()} tasks) | {fmt(references.BASELINE)} | "
            + " | ".join(cells)
            + f" | {fmt(references.CEILING)} |"
        )
    print()
    for benchmark in ("glue", "chexpert", "mustard"):
        entry = references.baselines_and_ceilings(cache, profile, benchmark, compute=False)
        criterion, signal = entry.read_csv("criterion.csv"), entry.read_csv("signal.csv")
        significant = signal[signal.significant].groupby("model").task.apply(list).to_dict()
        print(
            f"{benchmark}: signal criterion {'holds' if criterion.holds.all() else 'FAILS'} "
            f"({int(criterion.holds.sum())}/{len(criterion)} tasks); ceiling significant on "
            f"{len(significant.get('ceiling', []))} tasks; p < {references.ALPHA} against the baseline: "
            + "; ".join(f"{m} {len(significant.get(m, []))}" for m, _ in HEADS)
            + f"; classical max p over ceiling tasks = "
            f"{signal[(signal.model == 'classical') & signal.task.isin(significant.get('ceiling', []))].p_value.max():.2g}"
        )
        failing = criterion[~criterion.holds].task.tolist()
        if failing:
            print(f"  fails on: {', '.join(failing)}")


if __name__ == "__main__":
    main()
