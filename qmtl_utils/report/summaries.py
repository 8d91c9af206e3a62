"""The tables the notebooks show and the figures are drawn from, built once here from the cached
long-format results (``task, metric, value`` plus identifying columns)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from qmtl_utils.report.stats import mean_std_table, paired_comparison

BASELINES = ("classical", "hqnn4", "hqnnQ")


def task_means(table: pd.DataFrame, by: Sequence[str], sort: bool = True) -> pd.DataFrame:
    """A long results table with each metric averaged over tasks (NaN tasks skipped), per ``by``
    group: one row per (``by``, metric). The table form of
    :func:`qmtl_utils.training.metrics.mean_over_tasks`."""
    return table.groupby([*by, "metric"], sort=sort, dropna=False).value.agg(
        lambda v: float(np.nanmean(v)) if v.notna().any() else float("nan")).reset_index()


def mean_std_pivot(table: pd.DataFrame, by: Sequence[str], index: Sequence[str], columns: str,
                   digits: int = 3) -> pd.DataFrame:
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
    rows = [{"metric": metric, "baseline": baseline,
             **paired_comparison(t[head].to_numpy(), t[baseline].to_numpy())}
            for metric, t in table.groupby(level="metric") for baseline in baselines]
    return pd.DataFrame(rows)


def scaling_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """The task-scaling sweep per (variant, T): counted head parameters, mean and std test accuracy
    over seeds, the majority-class baseline and seconds per epoch (Fig. X1)."""
    return runs.groupby(["variant", "T"]).agg(
        head_params=("head_params", "first"), accuracy=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
        majority=("majority_accuracy", "mean"), epoch_s=("epoch_s", "mean")).reset_index()
