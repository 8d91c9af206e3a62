"""Summaries over seeds/folds and paired comparisons of two heads.

The paper's protocols give 3-5 matched runs per configuration (seeds, or MUStARD's 5 folds). With
so few pairs both tests have little power: a real difference often comes out "not significant",
and the Wilcoxon signed-rank test cannot reach p < 0.05 at all below 6 non-zero differences
(its smallest two-sided exact p-value is 2 / 2^n). Report the mean difference and the per-run
values alongside any p-value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

MIN_WILCOXON = 6  # fewest non-zero differences for which p < 0.05 is attainable


def mean_std_table(results: pd.DataFrame, by: Sequence[str], value: str = "value") -> pd.DataFrame:
    """Mean, sample std (ddof=1; NaN for a single run) and count ``n`` of ``value`` per ``by`` group."""
    grouped = results.groupby(list(by), sort=True)[value]
    return grouped.agg(mean="mean", std=lambda v: v.std(ddof=1), n="count").reset_index()


def mean_ci_table(results: pd.DataFrame, by: Sequence[str], value: str = "value", level: float = 0.95) -> pd.DataFrame:
    """:func:`mean_std_table` plus the ``level`` Student-t confidence interval of the mean over the
    group's runs (``ci_low``, ``ci_high``; NaN for a single run). With 3 runs the 95 % half-width is
    4.30 · std / √3 ≈ 2.5 std: what 3 replicates can and cannot tell apart."""
    table = mean_std_table(results, by, value)
    half = t_half_width(table["std"], table["n"], level)
    table["ci_low"], table["ci_high"] = table["mean"] - half, table["mean"] + half
    return table


def t_half_width(std, n, level: float = 0.95):
    """Half-width of the ``level`` Student-t interval of a mean of ``n`` runs with sample std ``std``."""
    n = np.asarray(n)
    return stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)) * std / np.sqrt(n)


def t_interval(values, level: float = 0.95) -> tuple[float, float]:
    """The ``level`` Student-t interval of the mean of ``values`` (NaN for fewer than 2).

    Taught in: 03b_paper_claims, "From words to a decision rule"
    """
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("nan"), float("nan")
    half = float(t_half_width(values.std(ddof=1), len(values), level))
    return float(values.mean() - half), float(values.mean() + half)


def paired_comparison(a, b) -> dict:
    """Paired comparison of ``a`` and ``b`` over matched seeds/folds (same order in both).

    Returns ``n``, ``mean_diff`` (mean of a - b), ``t_pvalue`` (``scipy.stats.ttest_rel``),
    ``wilcoxon_pvalue`` (``scipy.stats.wilcoxon``, zero differences dropped) and ``note``. A test
    that is undefined or powerless — fewer than 2 pairs or constant differences for the t-test,
    fewer than 6 non-zero differences for Wilcoxon — gives NaN and says why in ``note``.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D and matched, got shapes {a.shape} and {b.shape}")
    diff = a - b
    notes = []
    if len(diff) < 2 or np.ptp(diff) == 0:
        t_p = float("nan")
        notes.append("t-test undefined: fewer than 2 pairs or constant differences")
    else:
        t_p = float(stats.ttest_rel(a, b).pvalue)
    n_nonzero = int(np.count_nonzero(diff))
    if n_nonzero < MIN_WILCOXON:
        w_p = float("nan")
        notes.append(
            f"Wilcoxon skipped: {n_nonzero} non-zero differences (< {MIN_WILCOXON}), "
            f"smallest attainable p = {2 / 2**n_nonzero if n_nonzero else 1:.3g}"
        )
    else:
        w_p = float(stats.wilcoxon(a, b).pvalue)
    return {
        "n": len(diff),
        "mean_diff": float(diff.mean()) if len(diff) else float("nan"),
        "t_pvalue": t_p,
        "wilcoxon_pvalue": w_p,
        "note": "; ".join(notes),
    }


def percentile_interval(samples, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of a bootstrap distribution (NaN samples ignored)."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[~np.isnan(samples)]
    if not len(samples):
        return float("nan"), float("nan")
    low, high = np.percentile(samples, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def wilson_interval(proportion: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion observed on ``n`` samples (NaN when ``n`` is 0)."""
    if not n or proportion != proportion:
        return float("nan"), float("nan")
    z = stats.norm.ppf(0.5 + level / 2)
    centre = (proportion + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(proportion * (1 - proportion) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)
