"""The claims table of 03b_paper_claims (qmtl_utils.report.claims): each decision rule on its
boundaries, the paired difference and interval against scipy computed independently, and the rows
the table writes for benchmarks and tasks that did not run or carry no signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qmtl_utils.report import claims
from qmtl_utils.report.claims import CANNOT_TELL, FAILS, HOLDS


@pytest.mark.parametrize(
    "rule, low, high, expected",
    [
        ("equivalence", -0.01, 0.015, HOLDS),
        ("equivalence", -0.05, -0.03, FAILS),
        ("equivalence", 0.03, 0.2, FAILS),
        ("equivalence", -0.03, 0.01, CANNOT_TELL),
        ("non_inferiority", -0.019, 0.5, HOLDS),
        ("non_inferiority", -0.2, -0.021, FAILS),
        ("non_inferiority", -0.03, 0.01, CANNOT_TELL),
        ("superiority", 0.001, 0.2, HOLDS),
        ("superiority", -0.2, -0.001, FAILS),
        ("superiority", -0.1, 0.1, CANNOT_TELL),
        ("no_gain", -0.1, 0.019, HOLDS),
        ("no_gain", 0.001, 0.1, FAILS),
        ("no_gain", -0.01, 0.05, CANNOT_TELL),
    ],
)
def test_each_rule_on_its_boundaries(rule, low, high, expected):
    assert claims.RULES[rule][0](low, high, 0.02) == expected


def _metrics(values: dict[str, list[float]], tasks=("a", "b"), metric="accuracy") -> pd.DataFrame:
    """Long metrics: ``values[variant][replicate]`` is the task mean; task a is it minus 0.1, task b plus 0.1."""
    rows = []
    for variant, per_replicate in values.items():
        for r, value in enumerate(per_replicate):
            for task, shift in zip(tasks, (-0.1, 0.1)):
                rows.append(
                    {"variant": variant, "label": variant, "replicate": r, "task": task, "metric": metric, "value": value + shift}
                )
    return pd.DataFrame(rows)


def test_compare_is_the_paired_t_interval_and_test():
    qmtl, classical = [0.71, 0.74, 0.69, 0.75, 0.70], [0.70, 0.70, 0.71, 0.72, 0.69]
    result = claims.compare(_metrics({"qmtl": qmtl, "classical": classical}), "qmtl", "classical", "accuracy")
    diff = np.subtract(qmtl, classical)
    low, high = stats.t.interval(0.95, len(diff) - 1, loc=diff.mean(), scale=stats.sem(diff))
    assert result["n"] == 5
    assert result["difference"] == pytest.approx(diff.mean())
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((low, high))
    assert result["p_value"] == pytest.approx(stats.ttest_rel(qmtl, classical).pvalue)
    assert result["a_mean"] == pytest.approx(np.mean(qmtl)) and result["b_mean"] == pytest.approx(np.mean(classical))
    one_task = claims.compare(_metrics({"qmtl": qmtl, "classical": classical}), "qmtl", "classical", "accuracy", ["a"])
    assert one_task["a_mean"] == pytest.approx(np.mean(qmtl) - 0.1)


def test_glue_primary_metrics_are_matched_by_prefix():
    frame = _metrics({"qmtl": [0.5, 0.6, 0.7], "classical": [0.5, 0.6, 0.7]}, metric="primary:accuracy")
    frame.loc[frame.task == "b", "metric"] = "primary:matthews_corr"
    assert claims.compare(frame, "qmtl", "classical", "primary:")["n"] == 3
    assert claims.compare(frame, "qmtl", "classical", "accuracy")["n"] == 0


def _signal(p_values: dict[tuple[str, str], float]) -> pd.DataFrame:
    return pd.DataFrame([{"task": t, "model": m, "p_value": p} for (m, t), p in p_values.items()])


def test_table_rows_for_what_did_not_run_and_for_heads_at_chance():
    heads = {"classical": [0.80, 0.82, 0.81], "hqnn4": [0.6, 0.61, 0.62], "hqnnQ": [0.6, 0.6, 0.61], "qmtl": [0.80, 0.82, 0.815]}
    mustard = _metrics(heads, tasks=("sarcasm", "sentiment_implicit"))
    glue = _metrics(heads, tasks=("mrpc", "cola"), metric="primary:accuracy")
    signal = {
        "mustard": _signal({(m, t): (1e-6 if t == "sarcasm" else 0.5) for m in heads for t in ("sarcasm", "sentiment_implicit")}),
        "glue": _signal({(m, t): 1e-6 for m in heads for t in ("mrpc", "cola")}),
    }
    table = claims.claims_table(
        {"glue": glue, "mustard": mustard},
        0.02,
        signal=signal,
        not_run={"chexpert": "no data here"},
        differences={"glue": "MiniLM"},
    )
    chexpert = table[table.benchmark == "chexpert"]
    assert len(chexpert) and (chexpert.verdict == "not run: no data here").all()
    qqp = table[(table.claim == "glue_matches_tasks") & (table.task == "qqp")]
    assert qqp.verdict.iloc[0] == "not run: task not in this run (glue_tasks)"
    above = table[(table.claim == "above_hqnn4") & (table.benchmark == "mustard")].iloc[0]
    assert above.verdict == HOLDS and above.difference == pytest.approx(np.mean(heads["qmtl"]) - np.mean(heads["hqnn4"]))
    # neither head beats the majority class on sentiment: the per-task row cannot tell, whatever the interval
    flat = table[(table.claim == "no_task_degraded") & (table.task == "sentiment_implicit")].iloc[0]
    assert flat.verdict == CANNOT_TELL and "neither head carries signal" in flat.note
    # a row over all tasks stands when a head carries signal on one of them (sarcasm here) ...
    assert table[(table.claim == "mustard_competitive")].verdict.iloc[0] == HOLDS
    # ... and cannot tell when no head carries signal on any (heads at chance agree trivially, to the digit)
    silent = {b: frame.assign(p_value=0.5) for b, frame in signal.items()}
    quiet = claims.claims_table({"glue": glue, "mustard": mustard}, 0.02, signal=silent)
    competitive = quiet[quiet.claim == "mustard_competitive"].iloc[0]
    assert competitive.verdict == CANNOT_TELL and competitive.note == "neither head carries signal on any of these tasks"
    assert (quiet[quiet.claim == "glue_on_par"].verdict == CANNOT_TELL).all()
    sarcasm = table[table.claim == "mustard_sarcasm"].iloc[0]
    assert sarcasm.task == "sarcasm" and "p = 1e-06" in sarcasm.test
    assert (table[table.benchmark == "glue"].lite_differences == "MiniLM").all()
    summary = claims.claim_summary(table)
    row = summary[(summary.claim == "no_task_degraded") & (summary.benchmark == "mustard")].iloc[0]
    assert row.verdict == CANNOT_TELL and row.rows == 2  # sarcasm holds, sentiment cannot tell


def test_a_degraded_task_is_named_in_the_summary():
    heads = {"classical": [0.80, 0.82, 0.81], "qmtl": [0.60, 0.61, 0.62], "hqnn4": [0.5] * 3, "hqnnQ": [0.5] * 3}
    mustard = _metrics(heads, tasks=("sarcasm", "emotion_explicit"))
    table = claims.claims_table({"mustard": mustard}, 0.02)
    summary = claims.claim_summary(table)
    row = summary[(summary.claim == "no_task_degraded") & (summary.benchmark == "mustard")].iloc[0]
    assert row.verdict == FAILS and row.tasks_not_holding == "sarcasm, emotion_explicit"
