"""The chance baseline, the attainable ceiling and the signal criterion (studies/references.py),
checked against independent computations on the demo data."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qmtl_utils.data import datasets
from qmtl_utils.data.chexpert import encode_labels
from qmtl_utils.report.stats import mean_ci_table, wilson_interval
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.runtime.profiles import get_profile
from qmtl_utils.studies import benchmark_runs, references
from qmtl_utils.training.metrics import NEGATIVE, POSITIVE, sample_decisions


def _decisions(reference, replicate, task, label, prediction):
    return pd.DataFrame({"reference": reference, "replicate": replicate, "task": task, "label": label, "prediction": prediction})


def test_binomial_signal_pools_disjoint_folds_and_matches_scipy():
    rng = np.random.default_rng(0)
    parts, predictions = [], {}
    for r in (0, 1):
        label = (rng.random(300) < 0.3).astype(int)  # majority class 0 (~70 %)
        head = np.where(rng.random(300) < 0.85, label, 1 - label)
        parts.append(_decisions(references.BASELINE, r, "sarcasm", label, np.zeros(300, int)))
        predictions[("classical", r)] = pd.DataFrame({"task": "sarcasm", "label": label, "prediction": head})
    decisions = pd.concat(parts, ignore_index=True)
    signal = references.signal_table("mustard", decisions[decisions.task == "sarcasm"], predictions)
    row = signal[(signal.task == "sarcasm") & (signal.model == "classical")].iloc[0]
    k = sum(int((p.prediction == p.label).sum()) for p in predictions.values())
    k0 = int((decisions.label == 0).sum())
    expected = stats.binomtest(k, 600, k0 / 600, alternative="greater").pvalue
    assert row.n == 600 and row.statistic == pytest.approx(k / 600) and row.baseline == pytest.approx(k0 / 600)
    assert row.p_value == pytest.approx(expected) and row.significant


def test_glue_seeds_share_the_dev_split_so_the_largest_p_counts():
    label = np.r_[np.ones(140, int), np.zeros(60, int)]
    good = label.copy()
    weak = np.r_[np.ones(140, int), np.zeros(40, int), np.ones(20, int)]  # 180/200 vs majority 140/200
    decisions = pd.concat([_decisions(references.BASELINE, r, "rte", label, np.ones(200, int)) for r in (0, 1)])
    predictions = {
        ("classical", 0): pd.DataFrame({"task": "rte", "label": label, "prediction": good}),
        ("classical", 1): pd.DataFrame({"task": "rte", "label": label, "prediction": weak}),
    }
    table = references.signal_table("glue", decisions, predictions)
    row = table[(table.task == "rte") & (table.model == "classical")].iloc[0]
    assert row.n == 200
    assert row.p_value == pytest.approx(stats.binomtest(180, 200, 0.7, alternative="greater").pvalue)


def test_dependence_test_sees_signal_below_the_majority_accuracy():
    """A head that recalls the rare class at the cost of accuracy (what class weights do) is below
    the majority baseline in accuracy, yet its predictions depend on the label."""
    label = np.r_[np.ones(270, int), np.zeros(30, int)]  # 90 % positive
    prediction = np.r_[np.ones(240, int), np.zeros(30, int), np.zeros(25, int), np.ones(5, int)]
    decisions = _decisions(references.BASELINE, 0, "atelectasis", label, np.ones(300, int))
    predictions = {("classical", 0): pd.DataFrame({"task": "atelectasis", "label": label, "prediction": prediction})}
    row = references.signal_table("chexpert", decisions, predictions).iloc[0]
    assert row.statistic == pytest.approx(265 / 300) and row.baseline == pytest.approx(0.9)
    assert row.p_value > 0.5  # below the majority class in accuracy ...
    expected = stats.fisher_exact([[25, 5], [30, 240]], alternative="greater").pvalue
    assert row.dependence_p == pytest.approx(expected) and expected < 1e-10
    assert row.significant and row.signal_p == pytest.approx(expected)  # ... and yet it carries signal
    assert row.balanced_accuracy == pytest.approx((240 / 270 + 25 / 30) / 2)
    assert references.dependence_pvalue(label, np.ones(300, int)) == 1.0  # a constant says nothing
    three = np.repeat([0, 1, 2], 50)
    assert references.dependence_pvalue(three, three) == pytest.approx(
        stats.chi2_contingency(pd.crosstab(three, three).to_numpy()).pvalue
    )


def test_auroc_balanced_accuracy_and_the_binary_signal_match_scikit_learn_and_scipy():
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    from qmtl_utils.training.metrics import auroc_test, balanced_accuracy, sample_scores, signal_metrics

    rng = np.random.default_rng(1)
    label = (rng.random(400) < 0.2).astype(int)
    score = np.clip(0.3 + 0.25 * label + 0.2 * rng.standard_normal(400), 0, 1)
    score[:10] = 0.5  # ties count half
    auc, p = auroc_test(label, score)
    assert auc == pytest.approx(roc_auc_score(label, score))
    assert p == pytest.approx(stats.mannwhitneyu(score[label == 1], score[label == 0], alternative="greater").pvalue)
    prediction = (score > 0.45).astype(int)
    assert balanced_accuracy(label, prediction) == pytest.approx(balanced_accuracy_score(label, prediction))
    assert balanced_accuracy(label, np.zeros(400, int)) == 0.5  # a constant, whatever the balance
    assert np.isnan(auroc_test(np.ones(5, int), np.ones(5))[0])
    logits = np.log(score / (1 - score + 1e-12) + 1e-12)
    assert np.allclose(sample_scores("glue", "binary", logits, label), score, atol=1e-6)
    assert set(signal_metrics("glue", "binary", logits, label)) == {"balanced_accuracy", "auroc"}
    assert signal_metrics("glue", "regression", score, score) == {}
    # the signal table tests AUROC > 0.5 where the heads' predictions carry a score
    decisions = _decisions(references.BASELINE, 0, "sarcasm", label, np.zeros(400, int))
    predictions = {("classical", 0): pd.DataFrame({"task": "sarcasm", "label": label, "prediction": prediction, "score": score})}
    row = references.signal_table("mustard", decisions, predictions).iloc[0]
    assert row.auroc == pytest.approx(auc) and row.auroc_p == pytest.approx(p)
    assert row.signal_p == pytest.approx(max(p, row.dependence_p)) and row.significant


def test_criterion_needs_the_head_only_where_the_ceiling_is_significant():
    signal = pd.DataFrame(
        [
            {"task": "a", "model": "ceiling", "significant": True},
            {"task": "a", "model": "classical", "significant": True},
            {"task": "b", "model": "ceiling", "significant": False},
            {"task": "b", "model": "classical", "significant": False},
            {"task": "c", "model": "ceiling", "significant": True},
            {"task": "c", "model": "classical", "significant": False},
        ]
    )
    table = references.criterion(signal).set_index("task")
    assert table.holds.to_dict() == {"a": True, "b": True, "c": False}
    # a task without a ceiling in a profile that has them (the demo's WNLI) is not required
    no_ceiling = pd.concat([signal, pd.DataFrame([{"task": "d", "model": "classical", "significant": False}])])
    assert references.criterion(no_ceiling).set_index("task").holds["d"]


def test_chexpert_decisions_keep_only_negative_and_positive_labels():
    labels = np.array([POSITIVE, NEGATIVE, 0, -100, POSITIVE])
    logits = np.array([[0, 0, 5], [0, 5, 0], [9, 0, 0], [0, 0, 0], [0, 3, 1.0]])
    label, prediction = sample_decisions("chexpert", "multiclass", logits, labels)
    assert label.tolist() == [1, 0, 1] and prediction.tolist() == [1, 0, 0]  # rows 0, 1 and 4


@pytest.fixture(scope="module")
def smoke_cache(tmp_path_factory):
    profile = get_profile("smoke")
    cache = Cache(tmp_path_factory.mktemp("refs") / "cache")
    for benchmark in ("glue", "chexpert"):
        getattr(datasets, f"{benchmark}_dataset")(cache, profile["data"][benchmark], compute=True)
    return cache, profile


def test_chexpert_baseline_is_the_training_majority_and_the_ceiling_reads_the_latents(smoke_cache):
    cache, profile = smoke_cache
    entry = datasets.chexpert_dataset(cache, profile["data"]["chexpert"])
    frame, _, folds = datasets.read_chexpert(entry)
    latents = entry.read_csv("latents.csv")
    assert latents.Path.tolist() == frame.Path.tolist() and latents.shape[1] == 5
    table, decisions = references.reference_tables(entry, profile, "chexpert")
    labels = encode_labels(frame)
    test = folds[0]
    fit = np.setdiff1d(np.arange(len(frame)), test)
    for t, task in enumerate(("atelectasis", "cardiomegaly", "consolidation", "edema", "pleural_effusion")):
        y_fit, y_test = labels[fit, t], labels[test, t]
        predict_positive = (y_fit == POSITIVE).sum() >= (y_fit == NEGATIVE).sum()
        evaluated = y_test[(y_test == POSITIVE) | (y_test == NEGATIVE)]
        expected = np.mean((evaluated == POSITIVE) == predict_positive)
        row = table[(table.reference == references.BASELINE) & (table.task == task) & (table.metric == "accuracy")]
        assert row.value.iloc[0] == pytest.approx(expected) and row.n.iloc[0] == len(evaluated)
        assert ((table.reference == references.CEILING) & (table.task == task)).any()


def test_glue_ceiling_is_the_noiseless_label(smoke_cache):
    cache, profile = smoke_cache
    entry = datasets.glue_dataset(cache, profile["data"]["glue"])
    table, _ = references.reference_tables(entry, profile, "glue")
    ceiling = table[table.reference == references.CEILING].set_index(["task", "metric"]).value
    assert ceiling[("cola", "primary:matthews_corr")] == pytest.approx(1.0)
    assert "wnli" not in set(ceiling.index.get_level_values("task")) and "wnli" in references.NO_CEILING
    assert ceiling[("mnli", "primary:accuracy")] == pytest.approx(1.0)
    assert 0.8 < ceiling[("stsb", "primary:spearman")] < 1.0  # the score carries noise around (4 - k)/4
    baseline = table[table.reference == references.BASELINE].set_index(["task", "metric"]).value
    assert baseline[("stsb", "primary:spearman")] == 0.0 and baseline[("cola", "primary:matthews_corr")] == 0.0


@pytest.mark.slow
def test_demo_mustard_classical_head_meets_the_signal_criterion(tmp_path):
    """The criterion, checked mechanically on the demo's own MUStARD miniature (classical head)."""
    profile = get_profile("demo")
    cache = Cache(tmp_path / "demo")
    datasets.mustard_dataset(cache, profile["data"]["mustard"], compute=True)
    benchmark_runs.run_benchmark(cache, profile, "mustard", variants=("classical",))
    entry = references.baselines_and_ceilings(cache, profile, "mustard", variants=("classical",))
    criterion, signal = entry.read_csv("criterion.csv"), entry.read_csv("signal.csv")
    assert criterion.holds.all(), criterion
    assert (signal[signal.model == "ceiling"].signal_p < references.ALPHA).all()
    assert (signal.n >= 900).all()  # three disjoint test folds of 300


def test_mean_ci_and_wilson_intervals_match_their_formulas():
    table = mean_ci_table(pd.DataFrame({"g": ["a"] * 3, "value": [0.5, 0.6, 0.7]}), by=["g"]).iloc[0]
    low, high = stats.t.interval(0.95, 2, loc=0.6, scale=stats.sem([0.5, 0.6, 0.7]))
    assert (table.ci_low, table.ci_high) == pytest.approx((low, high))
    assert wilson_interval(0.5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)  # textbook value
    assert np.isnan(wilson_interval(0.5, 0)[0])
