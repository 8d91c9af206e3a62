"""The paper's claims of §5.2, each put to the measured results: a difference, its interval, a test
and a verdict (beyond the paper; notebook ``03b_paper_claims``, stage ``claims``).

Every claim compares two heads on the same replicates (GLUE seeds, CheXpert or MUStARD folds): per
replicate the metric is averaged over the benchmark's tasks (or read on one task), the difference
``a − b`` is taken replicate by replicate, and its mean gets a 95 % Student-t interval and a paired
t-test (:func:`~qmtl_utils.report.stats.paired_comparison`). A claim's words become one of four
decision rules, with ``δ`` the margin (profile setting ``claims.margin``, fixed before any run):

* **on par** (``equivalence``): holds if the whole interval lies within ``[−δ, +δ]``; does not hold
  if it lies wholly outside; otherwise the replicates cannot tell.
* **matches or exceeds / competitive** (``non_inferiority``): holds if the interval's lower end is
  above ``−δ``; does not hold if its upper end is below ``−δ``.
* **outperforms** (``superiority``): holds if the interval lies above 0; does not hold if it lies
  below 0 (the other head is better); an interval across 0 cannot tell.
* **brings no systematic gain** (``no_gain``): does not hold if the interval lies above 0 (a
  systematic gain); holds if its upper end is below ``+δ``.

A comparison says nothing when neither head carries signal (their predictions do not depend on the
label: two heads at chance agree trivially, often exactly): a row about one task needs a head with
signal on that task, a row over several tasks a head with signal on at least one of them; otherwise
it is "cannot tell", with that reason in ``note``.

"Cannot tell at this size" is a verdict, not a failure: with three seeds the 95 % interval is about
2.5 standard deviations wide on each side. Each row also says how the profile's setup differs from
the paper's in ways that could change the verdict (``differences``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from qmtl_utils.report.stats import paired_comparison, t_interval

HOLDS, FAILS, CANNOT_TELL = "holds", "does not hold", "cannot tell at this size"
VARIANT_NAMES = {"classical": "classical", "hqnn4": "HQNN-4", "hqnnQ": "HQNN-Q", "qmtl": "QMTL"}


def equivalence(low: float, high: float, margin: float) -> str:
    """On par: the interval within ``[−margin, margin]`` holds, wholly outside does not.

    Taught in: 03b_paper_claims, "From words to a decision rule"
    """
    if low >= -margin and high <= margin:
        return HOLDS
    if high < -margin or low > margin:
        return FAILS
    return CANNOT_TELL


def non_inferiority(low: float, high: float, margin: float) -> str:
    """Matches or exceeds: lower end above ``−margin`` holds, upper end below it does not.

    Taught in: 03b_paper_claims, "From words to a decision rule"
    """
    if low > -margin:
        return HOLDS
    if high < -margin:
        return FAILS
    return CANNOT_TELL


def superiority(low: float, high: float, margin: float) -> str:
    """Outperforms: the interval above 0 holds, below 0 does not (``margin`` unused).

    Taught in: 03b_paper_claims, "From words to a decision rule"
    """
    if low > 0:
        return HOLDS
    if high < 0:
        return FAILS
    return CANNOT_TELL


def no_gain(low: float, high: float, margin: float) -> str:
    """No systematic gain: the interval above 0 does not hold, upper end below ``margin`` holds.

    Taught in: 03b_paper_claims, "From words to a decision rule"
    """
    if low > 0:
        return FAILS
    if high < margin:
        return HOLDS
    return CANNOT_TELL


RULES: dict[str, tuple[Callable[[float, float, float], str], str]] = {
    "equivalence": (equivalence, "holds if the 95 % interval lies within ±δ; does not hold if wholly outside"),
    "non_inferiority": (non_inferiority, "holds if the interval's lower end > −δ; does not hold if its upper end < −δ"),
    "superiority": (superiority, "holds if the interval > 0; does not hold if < 0"),
    "no_gain": (no_gain, "does not hold if the interval > 0 (a systematic gain); holds if its upper end < +δ"),
}


@dataclass(frozen=True)
class Claim:
    """One claim of §5.2 as the code tests it.

    ``a`` and ``b`` are the head variants compared (``a − b``), on ``metric`` (a metric name, or a
    prefix such as ``"primary:"`` for GLUE's per-task primary metrics) averaged over ``tasks``
    (None: every task of the benchmark) — or, with ``per_task``, one row per task.
    """

    key: str
    section: str
    words: str  # the paper's claim, quoted or closely paraphrased
    benchmarks: tuple[str, ...]
    a: str
    b: str
    metric: str
    rule: str
    tasks: tuple[str, ...] | None = None
    per_task: bool = False
    needs_signal: bool = False  # also require a above the majority baseline (signal.csv, p < 0.01)


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "glue_on_par",
        "§5.2.1",
        "QMTL achieves performance on par with the classical baseline on GLUE (primary metrics)",
        ("glue",),
        "qmtl",
        "classical",
        "primary:",
        "equivalence",
    ),
    Claim(
        "glue_on_par_secondary",
        "§5.2.1",
        "… and on the secondary metrics",
        ("glue",),
        "qmtl",
        "classical",
        "secondary:",
        "equivalence",
    ),
    Claim(
        "glue_matches_tasks",
        "§5.2.1",
        "QMTL matches or exceeds the classical head on MRPC, QQP and QNLI",
        ("glue",),
        "qmtl",
        "classical",
        "primary:",
        "non_inferiority",
        tasks=("mrpc", "qqp", "qnli"),
        per_task=True,
    ),
    Claim(
        "above_hqnn4",
        "§5.2, §5.2.4",
        "QMTL outperforms HQNN-4 on every benchmark",
        ("glue", "chexpert", "mustard"),
        "qmtl",
        "hqnn4",
        "headline",
        "superiority",
    ),
    Claim(
        "above_hqnnQ",
        "§5.2, §5.2.4",
        "QMTL outperforms HQNN-Q (as many qubits as QMTL) on every benchmark",
        ("glue", "chexpert", "mustard"),
        "qmtl",
        "hqnnQ",
        "headline",
        "superiority",
    ),
    Claim(
        "hqnn_qubits",
        "§5.2.2-§5.2.4",
        "Increasing HQNN qubits (4 → 10/13) yields no systematic gain",
        ("glue", "chexpert", "mustard"),
        "hqnnQ",
        "hqnn4",
        "headline",
        "no_gain",
    ),
    Claim(
        "chexpert_competitive",
        "§5.2.2",
        "QMTL is competitive with the classical head on CheXpert",
        ("chexpert",),
        "qmtl",
        "classical",
        "headline",
        "non_inferiority",
    ),
    Claim(
        "mustard_competitive",
        "§5.2.3",
        "QMTL is competitive with the classical head on Extended MUStARD",
        ("mustard",),
        "qmtl",
        "classical",
        "headline",
        "non_inferiority",
    ),
    Claim("mustard_competitive_f1", "§5.2.3", "… in F1 too", ("mustard",), "qmtl", "classical", "f1", "non_inferiority"),
    Claim(
        "mustard_sarcasm",
        "§5.2.3",
        "QMTL performs particularly well on sarcasm (matches the classical head and carries signal)",
        ("mustard",),
        "qmtl",
        "classical",
        "f1",
        "non_inferiority",
        tasks=("sarcasm",),
        needs_signal=True,
    ),
    Claim(
        "no_task_degraded",
        "§5.2.4",
        "No single task is systematically degraded (QMTL against the classical head, task by task)",
        ("glue", "chexpert", "mustard"),
        "qmtl",
        "classical",
        "headline",
        "non_inferiority",
        per_task=True,
    ),
)

HEADLINE = {"glue": "primary:", "chexpert": "accuracy", "mustard": "accuracy"}
HEADLINE_NAME = {"glue": "mean primary metric", "chexpert": "accuracy", "mustard": "accuracy"}


def _select(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    return metrics[metrics.metric.str.startswith(metric)] if metric.endswith(":") else metrics[metrics.metric == metric]


def per_replicate(metrics: pd.DataFrame, variant: str, metric: str, tasks: Sequence[str] | None = None) -> pd.Series:
    """``variant``'s ``metric`` averaged over ``tasks`` (None: all present), one value per replicate."""
    rows = _select(metrics[metrics.variant == variant], metric)
    if tasks is not None:
        rows = rows[rows.task.isin(tasks)]
    return rows.groupby("replicate").value.mean()


def compare(metrics: pd.DataFrame, a: str, b: str, metric: str, tasks: Sequence[str] | None = None) -> dict:
    """``a − b`` over matched replicates: ``n``, ``difference`` (mean), ``ci_low``/``ci_high`` (95 %
    Student t), ``p_value`` (paired t-test, two-sided) and ``a_mean``/``b_mean``."""
    left, right = per_replicate(metrics, a, metric, tasks), per_replicate(metrics, b, metric, tasks)
    common = left.index.intersection(right.index)
    left, right = left[common].to_numpy(float), right[common].to_numpy(float)
    if not len(common):
        return {
            "n": 0,
            "difference": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p_value": np.nan,
            "a_mean": np.nan,
            "b_mean": np.nan,
        }
    low, high = t_interval(left - right)
    test = paired_comparison(left, right)
    return {
        "n": len(common),
        "difference": float((left - right).mean()),
        "ci_low": low,
        "ci_high": high,
        "p_value": test["t_pvalue"],
        "a_mean": float(left.mean()),
        "b_mean": float(right.mean()),
    }


def _signal_p(signal: pd.DataFrame, variant: str, tasks: Sequence[str], every: bool = True) -> float:
    """p-value of ``variant`` carrying signal on every one of ``tasks`` (the largest; ``every=False``:
    on at least one, the smallest), from signal.csv's ``signal_p`` (its predictions depend on the
    label; older tables: its accuracy beats the majority class)."""
    rows = signal[(signal.model == variant) & signal.task.isin(tasks)]
    column = "signal_p" if "signal_p" in rows else "p_value"
    if not len(rows):
        return float("nan")
    return float(rows[column].max() if every else rows[column].min())


def _verdict(rule: str, low: float, high: float, margin: float) -> str:
    if low != low or high != high:  # fewer than two replicates: no interval
        return CANNOT_TELL
    return RULES[rule][0](low, high, margin)


def claims_table(
    results: dict[str, pd.DataFrame],
    margin: float,
    *,
    signal: dict[str, pd.DataFrame] | None = None,
    not_run: dict[str, str] | None = None,
    differences: dict[str, str] | None = None,
    alpha: float = 0.01,
) -> pd.DataFrame:
    """One row per (claim, benchmark[, task]) of :data:`CLAIMS`.

    ``results``: ``{benchmark: metrics.csv}`` of the benchmarks that ran; ``signal``: their
    ``signal.csv`` (for claims that also need a head above the majority baseline); ``not_run``:
    ``{benchmark: why}`` for those that did not; ``differences``: ``{benchmark: how this setup differs
    from the paper's}``. Columns: claim, section, words, benchmark, task, comparison, metric, n,
    a_mean, b_mean, difference, ci_low, ci_high, test, p_value, rule, margin, verdict, note, lite_differences.

    Taught in: 03b_paper_claims, "Every row: the difference, its interval and the test"
    """
    rows = []
    for claim in CLAIMS:
        for benchmark in claim.benchmarks:
            base = {
                "claim": claim.key,
                "section": claim.section,
                "words": claim.words,
                "benchmark": benchmark,
                "comparison": f"{VARIANT_NAMES[claim.a]} − {VARIANT_NAMES[claim.b]}",
                "rule": RULES[claim.rule][1],
                "margin": margin,
                "lite_differences": (differences or {}).get(benchmark, ""),
            }
            metric = HEADLINE[benchmark] if claim.metric == "headline" else claim.metric
            metric_name = (
                HEADLINE_NAME[benchmark]
                if claim.metric == "headline"
                else (
                    "mean primary metric"
                    if metric == "primary:"
                    else "mean secondary metric"
                    if metric == "secondary:"
                    else metric
                )
            )
            if benchmark not in results:
                why = (not_run or {}).get(benchmark, "not run")
                rows.append({**base, "task": "", "metric": metric_name, "verdict": f"not run: {why}"})
                continue
            metrics = results[benchmark]
            present = list(dict.fromkeys(metrics.task))
            if claim.per_task:
                groups = [(t, [t]) for t in (claim.tasks or present)]
            else:
                groups = [(",".join(claim.tasks) if claim.tasks else "all tasks", list(claim.tasks) if claim.tasks else None)]
            for label, tasks in groups:
                if tasks is not None and not set(tasks) & set(present):
                    rows.append(
                        {**base, "task": label, "metric": metric_name, "verdict": "not run: task not in this run (glue_tasks)"}
                    )
                    continue
                result = compare(metrics, claim.a, claim.b, metric, tasks)
                verdict = _verdict(claim.rule, result["ci_low"], result["ci_high"], margin)
                test, note = "paired t over replicates", ""
                table = (signal or {}).get(benchmark)
                if table is not None:
                    scope = tasks if tasks is not None else present
                    p_a = _signal_p(table, claim.a, scope)
                    if claim.needs_signal:
                        test += f"; {VARIANT_NAMES[claim.a]} carries signal: p = {p_a:.2g}"
                        if verdict == HOLDS and not p_a < alpha:
                            verdict, note = CANNOT_TELL, f"{VARIANT_NAMES[claim.a]} carries no signal on this task"
                    # two heads that learned nothing agree trivially: a row over several tasks needs one
                    # head with signal on at least one of them, a row of one task on that task
                    learned = [_signal_p(table, v, scope, every=False) for v in (claim.a, claim.b)]
                    if not any(p < alpha for p in learned):
                        where = "this task" if len(scope) == 1 else "any of these tasks"
                        verdict, note = CANNOT_TELL, f"neither head carries signal on {where}"
                rows.append(
                    {**base, "task": label, "metric": metric_name, **result, "test": test, "verdict": verdict, "note": note}
                )
    columns = [
        "claim",
        "section",
        "words",
        "benchmark",
        "task",
        "comparison",
        "metric",
        "n",
        "a_mean",
        "b_mean",
        "difference",
        "ci_low",
        "ci_high",
        "test",
        "p_value",
        "rule",
        "margin",
        "verdict",
        "note",
        "lite_differences",
    ]
    return pd.DataFrame(rows).reindex(columns=columns)


def claim_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One line per (claim, benchmark): the verdicts of its rows combined — every row holds → holds,
    any row does not hold → does not hold, else cannot tell (or not run)."""

    def combine(verdicts: pd.Series) -> str:
        values = list(verdicts)
        if all(v == HOLDS for v in values):
            return HOLDS
        if any(v == FAILS for v in values):
            return FAILS
        if all(str(v).startswith("not run") for v in values):
            return values[0]
        return CANNOT_TELL

    grouped = table.groupby(["claim", "benchmark"], sort=False)
    out = grouped.agg(words=("words", "first"), verdict=("verdict", combine), rows=("verdict", "size")).reset_index()
    failing = grouped.apply(lambda g: ", ".join(g.task[g.verdict == FAILS]), include_groups=False)
    out["tasks_not_holding"] = out.set_index(["claim", "benchmark"]).index.map(failing).fillna("")
    return out
