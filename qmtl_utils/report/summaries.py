"""The tables the notebooks show and the figures are drawn from, built once here from the cached
long-format results (``task, metric, value`` plus identifying columns)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from qmtl_utils.report.stats import mean_ci_table, mean_std_table, paired_comparison
from qmtl_utils.spec import HEAD_VARIANTS

BASELINES = ("classical", "hqnn4", "hqnnQ")


def task_means(table: pd.DataFrame, by: Sequence[str], sort: bool = True) -> pd.DataFrame:
    """A long results table with each metric averaged over tasks (NaN tasks skipped), per ``by``
    group: one row per (``by``, metric). The table form of
    :func:`qmtl_utils.training.metrics.mean_over_tasks`."""
    return (
        table.groupby([*by, "metric"], sort=sort, dropna=False)
        .value.agg(lambda v: float(np.nanmean(v)) if v.notna().any() else float("nan"))
        .reset_index()
    )


def mean_std_pivot(table: pd.DataFrame, by: Sequence[str], index: Sequence[str], columns: str, digits: int = 3) -> pd.DataFrame:
    """``mean ± std`` over replicates (:func:`~qmtl_utils.report.stats.mean_std_table` by ``by``),
    as text, pivoted to ``index`` rows and ``columns`` columns: the summary tables of the notebooks."""
    summary = mean_std_table(table, by=list(by))
    fmt = f"{{:.{digits}f}}".format
    summary["mean ± std"] = summary["mean"].map(fmt) + " ± " + summary["std"].map(fmt)
    return summary.pivot(index=list(index), columns=columns, values="mean ± std")


def paired_tests(metrics: pd.DataFrame, baselines: Sequence[str] = BASELINES, head: str = "qmtl") -> pd.DataFrame:
    """``head`` vs each baseline, each metric averaged over tasks per replicate, paired over
    replicates (:func:`~qmtl_utils.report.stats.paired_comparison`): one row per (metric, baseline)."""
    table = metrics.groupby(["variant", "replicate", "metric"]).value.mean().unstack("variant")
    rows = [
        {"metric": metric, "baseline": baseline, **paired_comparison(t[head].to_numpy(), t[baseline].to_numpy())}
        for metric, t in table.groupby(level="metric")
        for baseline in baselines
    ]
    return pd.DataFrame(rows)


def scaling_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """The task-scaling sweep per (variant, T): counted head parameters, mean and std test accuracy
    over seeds, the majority-class baseline and seconds per epoch (Fig. X1)."""
    return (
        runs.groupby(["variant", "T"])
        .agg(
            head_params=("head_params", "first"),
            accuracy=("accuracy", "mean"),
            accuracy_std=("accuracy", "std"),
            majority=("majority_accuracy", "mean"),
            epoch_s=("epoch_s", "mean"),
        )
        .reset_index()
    )


def reference_means(references: pd.DataFrame, by: Sequence[str] = ("task", "metric")) -> pd.DataFrame:
    """The baseline and ceiling of ``references.csv`` averaged over replicates, one row per
    (reference, ``by``) with column ``mean``: what the figures draw as marks."""
    return references.groupby(["reference", *by]).value.mean().rename("mean").reset_index()


def results_table(metrics: pd.DataFrame, references: pd.DataFrame | None = None, digits: int = 3) -> pd.DataFrame:
    """The results table of a benchmark: per (task, metric) the majority baseline, each head's
    ``mean [95 % CI]`` over replicates (:func:`~qmtl_utils.report.stats.mean_ci_table`), and the
    ceiling, as text columns in that order."""
    summary = mean_ci_table(metrics, by=["task", "metric", "label"])
    fmt = f"{{:.{digits}f}}".format
    summary["text"] = summary["mean"].map(fmt) + " [" + summary["ci_low"].map(fmt) + ", " + summary["ci_high"].map(fmt) + "]"
    labels = metrics.drop_duplicates("variant").set_index("variant").label
    order = [labels[v] for v in HEAD_VARIANTS if v in labels]
    table = summary.pivot(index=["task", "metric"], columns="label", values="text")[order]
    if references is not None:
        means = reference_means(references).pivot(index=["task", "metric"], columns="reference", values="mean")
        for name, position in (("majority baseline", 0), ("ceiling", None)):
            if name in means:
                column = means[name].reindex(table.index).map(fmt)
                table.insert(len(table.columns) if position is None else position, name, column)
    return table
