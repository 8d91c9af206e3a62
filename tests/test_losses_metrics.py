"""Losses (Eqs. (23)-(24)), metrics (Eq. (25), Table 3) and statistics against hand computations and
against torch / scikit-learn / scipy directly."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy import stats as sps
from sklearn import metrics as skm

from qmtl_utils.report.stats import mean_std_table, paired_comparison
from qmtl_utils.training.losses import FocalLoss, inverse_frequency_weights, masked_multitask_focal_loss, task_loss
from qmtl_utils.training.metrics import (
    GLUE_METRICS,
    binary_positive_probability,
    chexpert_metrics,
    glue_metrics,
    multiclass_metrics,
)

B = -100  # blank

# --------------------------------------------------------------------------- losses


def test_inverse_frequency_weights_by_hand():
    labels = np.array([[0, B], [1, 1], [1, B], [2, 1], [2, 2], [2, 2]])
    w = inverse_frequency_weights(labels)
    # task 0: N=6, counts (1, 2, 3) -> 6/(3*1), 6/(3*2), 6/(3*3)
    # task 1: N=4 labelled, counts (0, 2, 2) -> absent class 0 gets 0, others 4/(3*2)
    expected = torch.tensor([[2.0, 1.0, 2 / 3], [0.0, 2 / 3, 2 / 3]])
    torch.testing.assert_close(w, expected)
    with pytest.raises(ValueError):
        inverse_frequency_weights(np.array([[3]]))


def test_entry_normalisation_by_hand():
    """The other reading of Eqs. (23)-(24): the literal N (all samples) in the weights and one mean
    of w·FL over every labelled entry, times T."""
    labels = np.array([[0, B], [1, 1], [1, B], [2, 1], [2, 2], [2, 2]])
    w = inverse_frequency_weights(labels, normalisation="entries")
    # task 1: N = 6 samples (not the 4 labelled), counts (0, 2, 2) -> 6/(3*2)
    torch.testing.assert_close(w, torch.tensor([[2.0, 1.0, 2 / 3], [0.0, 1.0, 1.0]]))
    g = torch.Generator().manual_seed(1)
    logits = [torch.randn(6, 3, generator=g) for _ in range(2)]
    target = torch.as_tensor(labels)
    entries = []
    for t in range(2):
        for i in range(6):
            if labels[i, t] != B:
                p = torch.softmax(logits[t][i], -1)[labels[i, t]]
                entries.append(w[t, labels[i, t]] * (1 - p) ** 2 * -torch.log(p))
    expected = 2 * torch.stack(entries).sum() / len(entries)  # T = 2, 10 labelled entries
    got = masked_multitask_focal_loss(logits, target, w, normalisation="entries")
    torch.testing.assert_close(got, expected)
    assert not torch.isclose(got, masked_multitask_focal_loss(logits, target, w))
    with pytest.raises(ValueError, match="normalisation"):
        masked_multitask_focal_loss(logits, target, w, normalisation="batch")


def _two_samples():
    # softmax([0, 0, ln 2]) = (1/4, 1/4, 1/2); softmax([ln 3, 0, 0]) = (3/5, 1/5, 1/5)
    logits = torch.tensor([[0.0, 0.0, math.log(2)], [math.log(3), 0.0, 0.0]])
    return logits, torch.tensor([2, 1])  # true-class probabilities 1/2 and 1/5


def test_focal_loss_by_hand():
    logits, target = _two_samples()
    fl1, fl2 = 0.5**2 * math.log(2), 0.8**2 * math.log(5)  # (1-p)^2 * (-log p)
    assert FocalLoss(gamma=2.0)(logits, target).item() == pytest.approx((fl1 + fl2) / 2)
    weights = torch.tensor([1.0, 2.0, 0.5])  # targets use w_2 = 0.5 and w_1 = 2
    weighted = FocalLoss(gamma=2.0, alpha=0.7, class_weights=weights)(logits, target).item()
    assert weighted == pytest.approx(0.7 * (0.5 * fl1 + 2 * fl2) / 2.5)


def test_focal_loss_reduces_to_cross_entropy():
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(40, 3, generator=g), torch.randint(0, 3, (40,), generator=g)
    target[::5] = B
    weights = torch.tensor([0.5, 3.0, 1.2])
    for w in (None, weights):
        torch.testing.assert_close(
            FocalLoss(gamma=0.0, alpha=1.0, class_weights=w)(logits, target),
            F.cross_entropy(logits, target, weight=w, ignore_index=B),
        )
    # a constant factor on the weights (the two readings of N in Eq. (23)) cancels
    torch.testing.assert_close(
        FocalLoss(class_weights=weights)(logits, target), FocalLoss(class_weights=7 * weights)(logits, target)
    )


def test_masking_blanks_and_empty_batches():
    logits, target = _two_samples()
    loss = FocalLoss(class_weights=torch.tensor([1.0, 2.0, 0.5]))
    padded = torch.cat([logits, 5 * torch.randn(3, 3)]).requires_grad_()
    with_blanks = loss(padded, torch.tensor([2, 1, B, B, B]))
    torch.testing.assert_close(with_blanks, loss(logits, target))
    with_blanks.backward()
    assert (padded.grad[2:] == 0).all()

    empty = torch.randn(4, 3, requires_grad=True)
    value = loss(empty, torch.full((4,), B))
    value.backward()
    assert value.item() == 0.0 and (empty.grad == 0).all()


def test_multitask_loss_sums_tasks_and_skips_unlabelled():
    g = torch.Generator().manual_seed(1)
    logits = [torch.randn(6, 3, generator=g, requires_grad=True) for _ in range(3)]
    labels = torch.tensor([[0, B, B], [1, B, 2], [2, B, 2], [2, B, B], [1, B, 0], [B, B, 1]])
    weights = inverse_frequency_weights(labels)
    total = masked_multitask_focal_loss(logits, labels, weights, gamma=2.0, alpha=1.0)
    expected = sum(FocalLoss(class_weights=weights[t])(logits[t], labels[:, t]) for t in (0, 2))
    torch.testing.assert_close(total, expected)  # task 1 (all blank) adds 0
    total.backward()
    assert torch.isfinite(total) and (logits[1].grad == 0).all()
    all_blank = masked_multitask_focal_loss(logits, torch.full((6, 3), B), weights)
    assert all_blank.item() == 0.0


def test_task_loss_by_kind():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 1, generator=g)
    y = torch.randint(0, 2, (8,), generator=g)
    torch.testing.assert_close(task_loss("binary", x, y), F.binary_cross_entropy_with_logits(x[:, 0], y.float()))
    z, c = torch.randn(8, 3, generator=g), torch.randint(0, 3, (8,), generator=g)
    torch.testing.assert_close(task_loss("multiclass", z, c), F.cross_entropy(z, c))
    r = torch.rand(8, generator=g)
    torch.testing.assert_close(task_loss("regression", x, r), F.mse_loss(x[:, 0], r))
    with pytest.raises(ValueError):
        task_loss("ranking", x, y)


# --------------------------------------------------------------------------- metrics


def test_eq25_renormalisation():
    # softmax of (5, 0, ln 3) is proportional to (e^5, 1, 3): p+ / (p+ + p-) = 3 / 4
    assert binary_positive_probability(np.array([[5.0, 0.0, math.log(3)]]))[0] == pytest.approx(0.75)
    logits = np.random.default_rng(0).normal(size=(50, 3)) * 4
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(binary_positive_probability(logits), p[:, 2] / (p[:, 2] + p[:, 1]))
    assert np.isfinite(binary_positive_probability(np.array([[0.0, 1000.0, -1000.0]]))).all()


def _logits_for(p_pos):
    """(uncertain, negative, positive) logits whose Eq. (25) probability is ``p_pos``; the uncertain
    logit is large so that a plain 3-class argmax would say "uncertain"."""
    p_pos = np.asarray(p_pos, dtype=float)
    return np.stack([np.full_like(p_pos, 9.0), np.zeros_like(p_pos), np.log(p_pos / (1 - p_pos))], axis=1)


def test_chexpert_metrics_by_hand():
    # TP, FP, (uncertain), (blank), FN, TN, TP -> TP=2, FP=1, FN=1, TN=1 on 5 evaluated samples
    labels = np.array([[2, 1, 0, B, 2, 1, 2]]).T
    logits = _logits_for([0.9, 0.7, 0.9, 0.9, 0.2, 0.1, 0.6])
    m = chexpert_metrics([logits], labels, task_names=["edema"])["edema"]
    assert m == pytest.approx({"accuracy": 3 / 5, "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    only_uncertain = chexpert_metrics([logits[:4]], np.array([[0, B, 0, B]]).T)[0]
    assert all(math.isnan(v) for v in only_uncertain.values())


def test_chexpert_metrics_against_sklearn():
    rng = np.random.default_rng(1)
    labels = rng.choice([B, 0, 1, 2], size=(300, 5))
    logits = [rng.normal(size=(300, 3)) for _ in range(5)]
    got = chexpert_metrics(logits, labels)
    for t in range(5):
        keep = np.isin(labels[:, t], (1, 2))
        y = labels[keep, t] == 2
        p = np.exp(logits[t][keep])
        pred = p[:, 2] / (p[:, 1] + p[:, 2]) >= 0.5
        assert got[t] == pytest.approx(
            {
                "accuracy": skm.accuracy_score(y, pred),
                "precision": skm.precision_score(y, pred, zero_division=0),
                "recall": skm.recall_score(y, pred),
                "f1": skm.f1_score(y, pred),
            }
        )


def test_glue_metrics_by_hand():
    # CoLA: predictions (1, 0, 0, 1) for labels (1, 0, 1, 1): TP=2 TN=1 FP=0 FN=1
    m = glue_metrics("cola", np.array([2.0, -1.0, -3.0, 0.5]), np.array([1, 0, 1, 1]))
    assert m["names"] == ("matthews_corr", "accuracy")
    assert m["primary"] == pytest.approx(2 / math.sqrt(12)) and m["secondary"] == 0.75
    # STS-B: ranks (1, 2, 3, 4) against (1, 3, 2, 4): 1 - 6 * 2 / (4 * 15)
    m = glue_metrics("stsb", np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([0.1, 0.4, 0.3, 0.9]))
    assert m["primary"] == pytest.approx(0.8)


def test_glue_metrics_against_sklearn_and_scipy():
    rng = np.random.default_rng(2)
    n = 120
    binary_logits, binary_labels = rng.normal(size=n), rng.integers(0, 2, n)
    hard = (binary_logits > 0).astype(int)
    mnli_logits, mnli_labels = rng.normal(size=(n, 3)), rng.integers(0, 3, n)
    score, target = rng.normal(size=n), rng.uniform(size=n)
    reference = {
        "matthews_corr": lambda: skm.matthews_corrcoef(binary_labels, hard),
        "accuracy": lambda: skm.accuracy_score(binary_labels, hard),
        "f1": lambda: skm.f1_score(binary_labels, hard),
    }
    for task, names in GLUE_METRICS.items():
        if task in ("stsb", "mnli"):
            continue
        m = glue_metrics(task, binary_logits[:, None], binary_labels)
        assert m["names"] == names
        assert (m["primary"], m["secondary"]) == pytest.approx(tuple(reference[k]() for k in names))
    m = glue_metrics("mnli", mnli_logits, mnli_labels)
    pred = mnli_logits.argmax(1)
    assert (m["primary"], m["secondary"]) == pytest.approx(
        (skm.accuracy_score(mnli_labels, pred), skm.f1_score(mnli_labels, pred, average="macro"))
    )
    assert glue_metrics("mnli", pred, mnli_labels) == m
    m = glue_metrics("stsb", score, target)
    assert (m["primary"], m["secondary"]) == pytest.approx(
        (sps.spearmanr(score, target).statistic, sps.pearsonr(score, target).statistic)
    )
    with pytest.raises(ValueError):
        glue_metrics("squad", score, target)


def test_multiclass_metrics_by_hand():
    # predictions (0, 1, 1, 1) for labels (0, 0, 1, 2); class 2 is never predicted -> P_2 = 0
    logits = np.eye(3)[[0, 1, 1, 1]]
    m = multiclass_metrics(logits, np.array([0, 0, 1, 2]), 3)
    assert m == pytest.approx({"accuracy": 0.5, "precision": 4 / 9, "recall": 0.5, "f1": 7 / 18})
    # sarcasm: one logit per sample, positive-class scores; TP=1 FP=1 FN=0 TN=1
    m = multiclass_metrics(np.array([[1.5], [0.2], [-2.0]]), np.array([1, 0, 0]), 2)
    assert m == pytest.approx({"accuracy": 2 / 3, "precision": 0.5, "recall": 1.0, "f1": 2 / 3})


def test_multiclass_metrics_against_sklearn():
    rng = np.random.default_rng(3)
    for k in (3, 9):
        logits, labels = rng.normal(size=(80, k)), rng.integers(0, k - 1, 80)  # the last class absent
        pred = logits.argmax(1)
        p, r, f, _ = skm.precision_recall_fscore_support(labels, pred, average="macro", zero_division=0)
        assert multiclass_metrics(logits, labels, k) == pytest.approx(
            {"accuracy": skm.accuracy_score(labels, pred), "precision": p, "recall": r, "f1": f}
        )
    logits, labels = rng.normal(size=(80, 2)), rng.integers(0, 2, 80)
    pred = logits.argmax(1)
    assert multiclass_metrics(logits, labels, 2) == pytest.approx(
        {
            "accuracy": skm.accuracy_score(labels, pred),
            "precision": skm.precision_score(labels, pred),
            "recall": skm.recall_score(labels, pred),
            "f1": skm.f1_score(labels, pred),
        }
    )
    with pytest.raises(ValueError):
        multiclass_metrics(logits, labels, 3)


# --------------------------------------------------------------------------- statistics


@pytest.mark.filterwarnings("error")
def test_paired_comparison_against_scipy():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0.8, 0.05, 8), rng.normal(0.75, 0.05, 8)
    r = paired_comparison(a, b)
    assert r["n"] == 8 and r["mean_diff"] == pytest.approx(np.mean(a - b)) and r["note"] == ""
    assert r["t_pvalue"] == pytest.approx(sps.ttest_rel(a, b).pvalue)
    assert r["wilcoxon_pvalue"] == pytest.approx(sps.wilcoxon(a, b).pvalue)

    few = paired_comparison(a[:3], b[:3])  # 3 seeds: t-test still runs, Wilcoxon is powerless
    assert few["t_pvalue"] == pytest.approx(sps.ttest_rel(a[:3], b[:3]).pvalue)
    assert math.isnan(few["wilcoxon_pvalue"]) and "Wilcoxon" in few["note"]

    same = paired_comparison(a, a)  # all differences zero: no test is defined
    assert same["mean_diff"] == 0 and math.isnan(same["t_pvalue"]) and math.isnan(same["wilcoxon_pvalue"])
    with pytest.raises(ValueError):
        paired_comparison(a, b[:3])


def test_mean_std_table():
    frame = pd.DataFrame(
        {"head": ["qmtl"] * 3 + ["classical"] * 2 + ["hqnn"], "task": "edema", "value": [0.1, 0.2, 0.6, 0.5, 0.7, 0.4]}
    )
    table = mean_std_table(frame, by=["head", "task"]).set_index("head")
    assert list(table.columns) == ["task", "mean", "std", "n"]
    assert table.loc["qmtl", "mean"] == pytest.approx(0.3) and table.loc["qmtl", "n"] == 3
    assert table.loc["qmtl", "std"] == pytest.approx(math.sqrt(((0.2) ** 2 + 0.1**2 + 0.3**2) / 2))
    assert table.loc["classical", "std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert math.isnan(table.loc["hqnn", "std"])
