# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03b · The paper's claims, put to the measured results (§5.2)
#
# Section 5.2 of the paper makes claims about the four heads: QMTL on par with the classical head on
# GLUE, matching or exceeding it on MRPC, QQP and QNLI, above both HQNN variants on every benchmark,
# HQNN gaining nothing from more qubits, QMTL competitive on Extended MUStARD and strong on sarcasm,
# no task systematically degraded. This notebook turns each into a difference between two heads on
# the same seeds or folds, with its 95 % interval, a paired test and a verdict: **holds**, **does not
# hold**, or **cannot tell at this size**. Under the `lite` profile the results are the real public
# benchmarks at reduced scale; under `demo`/`smoke` they are the seeded stand-ins, and say so.
#
# **Reads:** the result tables `results_glue`, `results_chexpert`, `results_mustard` of `03_training`
# (with the runs `run_glue`, `run_chexpert`, `run_mustard` and datasets `data_glue`, `data_chexpert`,
# `data_mustard` they are keyed by) and the signal tests `references_glue`, `references_chexpert`,
# `references_mustard`.
# **Writes:** `claims` (`claims.csv`, `summary.csv`), which `07_figures` copies beside the figures.

# %% tags=["parameters"]
profile: str = "demo"  # paper | lite | demo | smoke — settings in qmtl_utils/runtime/profiles.py
glue_tasks: str = "all"  # GLUE tasks: "all" (the nine) or a comma-separated subset such as "cola,mrpc"

# %%
import pandas as pd

from qmtl_utils.notebook import environment_report, setup_notebook
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.studies import paper_claims

settings = setup_notebook(profile, glue_tasks=glue_tasks)
cache = Cache.for_profile(profile)
margin = settings["claims"]["margin"]
print(f"margin δ = {margin} (fixed in the profile before any run)")

# %% [markdown]
# ## From words to a decision rule
#
# For a claim about heads $a$ and $b$ (say QMTL and the classical head), each replicate $r$ gives a
# difference of their metric averaged over the benchmark's tasks (GLUE: each task's primary metric;
# CheXpert and MUStARD: accuracy, or the metric the claim names),
#
# $$
# \Delta_r = \bar m_a^{(r)} - \bar m_b^{(r)}, \qquad
# \bar\Delta \pm t_{0.975,\,n-1}\,\frac{s_\Delta}{\sqrt n}
# $$
#
# over the $n$ replicates (3 GLUE seeds, 5 MUStARD folds in `lite`), with a paired t-test. The claim's
# words pick the rule, with a margin $\delta$ for "on par":
#
# | the paper says | rule | holds if | does not hold if |
# |---|---|---|---|
# | on par | equivalence | the interval lies within $[-\delta, +\delta]$ | it lies wholly outside |
# | matches or exceeds, competitive | non-inferiority | its lower end $> -\delta$ | its upper end $< -\delta$ |
# | outperforms | superiority | it lies above 0 | it lies below 0 |
# | no systematic gain | no gain | its upper end $< +\delta$ | it lies above 0 |
#
# Anything in between is **cannot tell at this size**: the interval is too wide to decide. That is a
# finding about the number of replicates, not about the heads.

# %%
entry = paper_claims.claims(cache, settings)
table, summary = entry.read_csv("claims.csv"), entry.read_csv("summary.csv")
summary[["claim", "benchmark", "verdict", "tasks_not_holding"]]

# %% [markdown]
# ## Every row: the difference, its interval and the test
#
# One row per claim and benchmark (and per task where the claim is about tasks): the two heads'
# means, their difference with its 95 % interval, the paired t-test's p-value and the verdict. A
# benchmark that did not run here (under `lite`, CheXpert without its licensed data) says so.

# %%
columns = [
    "claim",
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
    "p_value",
    "verdict",
    "note",
]
table[columns].round(3)

# %% [markdown]
# ## In words
#
# The same verdicts as sentences, then how this setup differs from the paper's in ways that could
# change them: a verdict here is about this profile's data and scale, never silently about the paper's.

# %%
for sentence in paper_claims.verdict_sentences(summary):
    print("•", sentence)

# %%
pd.Series(paper_claims.setup_differences(settings), name="how this setup differs from the paper").to_frame()

# %% [markdown]
# ## Exercises
#
# Each question is followed by its answer and a cell that checks it (the test suite runs it).
# Try the question before you read on.

# %% [markdown]
# **Exercise 1 (the margin).** The margin δ decides what "on par" means. Before you change it, write
# down which rows would change verdict at δ = 0.05, then set `settings["claims"]["margin"] = 0.05`
# and call `qmtl_utils.report.claims.claims_table` on the cached metrics to check.

# %% [markdown]
# **Answer.** Only rows whose rule uses δ can move (equivalence, non-inferiority, no gain;
# superiority compares with 0), and a wider margin can only help them: an equivalence or
# non-inferiority row that could not tell (its interval crossed $-\delta$) holds once its lower end is
# above $-0.05$, and one that did not hold may become "cannot tell". A row whose interval is wider than
# $2\delta$ can never hold an equivalence claim, whatever its mean. The cell writes the rules of the table above by hand, checks them
# against the package's on random intervals, computes the claims table at δ = 0.05 with the package
# and checks every row against the hand-written rules, then lists the rows that changed (with a
# single replicate, as in the smoke profile, there is no interval and nothing changes):

# %%
import numpy as np

from qmtl_utils.report import claims as claim_rules
from qmtl_utils.runtime.profiles import missing_benchmarks
from qmtl_utils.studies import benchmark_runs
from qmtl_utils.studies.references import baselines_and_ceilings

ran = [b for b in paper_claims.BENCHMARKS if b not in missing_benchmarks(settings)]
metrics = {b: benchmark_runs.results_entry(cache, settings, b).read_csv("metrics.csv") for b in ran}
signal = {b: baselines_and_ceilings(cache, settings, b, compute=False).read_csv("signal.csv") for b in ran}
wider = claim_rules.claims_table(metrics, 0.05, signal=signal)
rule_of = {c.key: c.rule for c in claim_rules.CLAIMS}


def by_hand(rule, low, high, margin):  # the table of rules above, written out
    if not (np.isfinite(low) and np.isfinite(high)):
        return "cannot tell at this size"
    holds = {
        "equivalence": -margin <= low and high <= margin,
        "non_inferiority": low > -margin,
        "superiority": low > 0,
        "no_gain": low <= 0 and high < margin,
    }[rule]
    fails = {
        "equivalence": high < -margin or low > margin,
        "non_inferiority": high < -margin,
        "superiority": high < 0,
        "no_gain": low > 0,
    }[rule]
    return "does not hold" if fails else "holds" if holds else "cannot tell at this size"


for rule, (decide, _) in claim_rules.RULES.items():  # the hand-written rules are the package's
    for low, high in np.sort(np.random.default_rng(0).uniform(-0.1, 0.1, (500, 2)), axis=1):
        assert by_hand(rule, low, high, 0.05) == decide(low, high, 0.05), (rule, low, high)
keys = ["claim", "benchmark", "task"]
both = table.fillna({"task": "", "note": ""}).merge(wider.fillna({"task": "", "note": ""}), on=keys, suffixes=("", "_wider"))
assert len(both) == len(table) == len(wider)
scored = both[~both.verdict.str.startswith("not run") & both.note.eq("") & both.note_wider.eq("")]
assert all(by_hand(rule_of[r.claim], r.ci_low_wider, r.ci_high_wider, 0.05) == r.verdict_wider for r in scored.itertuples())
changed = both[(both.verdict != both.verdict_wider) & ~both.verdict.str.startswith("not run")]
print(f"{len(changed)} of {len(both)} rows change verdict at δ = 0.05")
changed[keys + ["ci_low", "ci_high", "verdict", "verdict_wider"]].round(3)

# %% [markdown]
# **Exercise 2 (absence of evidence).** Why can the rule for "outperforms" say "does not hold" only
# when the interval lies *below* zero, and not when it merely contains zero?

# %% [markdown]
# **Answer.** An interval that contains zero contains both "no difference" and "QMTL is better by a
# little": the replicates are compatible with the claim and with its opposite, so they cannot refute
# it. Only an interval wholly below zero says the other head is better. A 95 % interval contains zero
# exactly when the two-sided paired t-test has $p \ge 0.05$, so "cannot tell" is "not significant",
# never "shown equal". The cell checks the rule on three intervals, and the interval-test duality on
# random sets of differences with `scipy.stats.ttest_1samp`:

# %%
from scipy import stats

from qmtl_utils.report.stats import t_interval

assert claim_rules.superiority(0.01, 0.05, margin) == "holds"
assert claim_rules.superiority(-0.02, 0.03, margin) == "cannot tell at this size"
assert claim_rules.superiority(-0.05, -0.01, margin) == "does not hold"
rng = np.random.default_rng(0)
for _ in range(200):
    differences = rng.normal(rng.normal(0, 0.02), 0.03, size=rng.integers(3, 10))
    low, high = t_interval(differences)
    assert (low < 0 < high) == (stats.ttest_1samp(differences, 0).pvalue > 0.05)

# %% [markdown]
# **Exercise 3 (three seeds).** With three seeds, how large must a difference be, in units of its
# standard deviation across seeds, for its 95 % interval to exclude zero? And with five folds?

# %% [markdown]
# **Answer.** The interval is $\bar\Delta \pm t_{0.975,\,n-1}\, s_\Delta/\sqrt n$, so it excludes zero when
# $|\bar\Delta| / s_\Delta > t_{0.975,\,n-1}/\sqrt n$: $4.30/\sqrt 3 \approx 2.5$ standard deviations for
# three seeds, $2.78/\sqrt 5 \approx 1.24$ for five folds. With three seeds only a difference that is
# large and very consistent across seeds can be told apart, which is why "cannot tell at this size"
# is common. The cell checks the threshold against `t_interval` on differences built to sit just
# above and just below it:

# %%
for n in (3, 5, 10):
    threshold = stats.t.ppf(0.975, n - 1) / np.sqrt(n)
    unit = np.linspace(-1, 1, n)
    unit = unit / unit.std(ddof=1)  # mean 0, standard deviation 1
    assert t_interval(unit + threshold * 1.001)[0] > 0 > t_interval(unit + threshold * 0.999)[0]
    print(f"n = {n:2d}: the mean difference must exceed {threshold:.2f} standard deviations")

# %% [markdown]
# ## Environment

# %%
environment_report()
