"""Evaluation metrics of Table 3 (Appendix A.4) with scikit-learn and scipy; numpy in, floats out.

* CheXpert (Appendix C.2): 3-class logits → Eq. (25) → positive-class Acc/P/R/F1 at threshold 0.5,
  on the samples labelled negative or positive only.
* GLUE (Appendix C.1): a (primary, secondary) pair per task, primary first as in Table 3.
* Extended MUStARD (Appendix C.3): Acc/P/R/F1; the paper does not say how P/R/F1 are averaged for
  the 3- and 9-class tasks, we use macro averages (see :func:`multiclass_metrics`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats
from scipy.special import expit
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, precision_recall_fscore_support

# CheXpert class indices (Appendix A.2); blanks are -100
UNCERTAIN, NEGATIVE, POSITIVE = 0, 1, 2

# Table 3: (primary, secondary) metric per GLUE task
GLUE_METRICS: dict[str, tuple[str, str]] = {
    "cola": ("matthews_corr", "accuracy"),
    "sst2": ("accuracy", "f1"),
    "mrpc": ("f1", "accuracy"),
    "stsb": ("spearman", "pearson"),
    "qqp": ("f1", "accuracy"),
    "mnli": ("accuracy", "f1_macro"),
    "qnli": ("accuracy", "f1"),
    "rte": ("accuracy", "f1"),
    "wnli": ("accuracy", "f1"),
}


def binary_positive_probability(logits) -> np.ndarray:
    """Eq. (25): ``p+ / (p+ + p-)`` from the softmax over (uncertain, negative, positive) logits ``(N, 3)``.

    The softmax normaliser and the uncertain mass cancel, so this is exactly
    ``sigmoid(logit_pos - logit_neg)``, which is how it is computed (no overflow).

    Taught in: 00_data_prep, "Exercises"
    """
    logits = np.asarray(logits, dtype=np.float64)
    return expit(logits[:, POSITIVE] - logits[:, NEGATIVE])


def _positive_class_scores(y_true, y_pred) -> dict[str, float]:
    """Accuracy and positive-class (label 1) precision, recall, F1 with ``zero_division=0``."""
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", pos_label=1, zero_division=0)
    return _floats(accuracy_score(y_true, y_pred), p, r, f)


def _floats(accuracy, precision, recall, f1) -> dict[str, float]:
    return {"accuracy": float(accuracy), "precision": float(precision), "recall": float(recall), "f1": float(f1)}


def chexpert_metrics(logits_per_task: Sequence, labels, task_names: Sequence[str] | None = None, threshold: float = 0.5) -> dict:
    """Per-task {accuracy, precision, recall, f1} of the positive class (Appendix C.2).

    ``logits_per_task[t]`` is ``(N, 3)``, ``labels`` is ``(N, T)`` in {0 uncertain, 1 negative,
    2 positive, -100 blank}. Only samples labelled negative or positive are evaluated (uncertain
    and blank excluded, following Irvin et al.); a sample is predicted positive when Eq. (25) is
    ``>= threshold``. Keys are ``task_names`` (default: task indices); a task with no negative or
    positive label gets NaN metrics.
    """
    labels = np.asarray(labels)
    names = range(labels.shape[1]) if task_names is None else task_names
    out = {}
    for name, logits, y in zip(names, logits_per_task, labels.T, strict=True):
        y_true, pred = sample_decisions("chexpert", "multiclass", logits, y, threshold)
        out[name] = (
            _positive_class_scores(y_true, pred)
            if len(y_true)
            else dict.fromkeys(("accuracy", "precision", "recall", "f1"), float("nan"))
        )
    return out


def glue_metrics(task: str, outputs, labels) -> dict:
    """Table 3's primary and secondary metric of one GLUE task: ``{primary, secondary, names}``.

    ``outputs``: binary tasks a logit per sample (predicted 1 when > 0, so 0/1 predictions work
    too); MNLI ``(N, 3)`` logits (argmax) or class predictions ``(N,)``; STS-B the raw predicted
    score. F1 is the positive-class F1, except MNLI whose 3 classes use macro F1.
    """
    if task not in GLUE_METRICS:
        raise ValueError(f"unknown GLUE task {task!r}; use one of {tuple(GLUE_METRICS)}")
    outputs, labels = np.asarray(outputs), np.asarray(labels)
    if task == "stsb":
        pred = outputs.reshape(-1)
    elif task == "mnli":
        pred = outputs.argmax(axis=1) if outputs.ndim == 2 else outputs
    else:
        pred = (outputs.reshape(-1) > 0).astype(int)
    value = {
        "matthews_corr": lambda: matthews_corrcoef(labels, pred),
        "accuracy": lambda: accuracy_score(labels, pred),
        "f1": lambda: f1_score(labels, pred, zero_division=0),
        "f1_macro": lambda: f1_score(labels, pred, average="macro", zero_division=0),
        "spearman": lambda: stats.spearmanr(pred, labels).statistic,
        "pearson": lambda: stats.pearsonr(pred, labels).statistic,
    }
    primary, secondary = GLUE_METRICS[task]
    return {"primary": float(value[primary]()), "secondary": float(value[secondary]()), "names": (primary, secondary)}


def multiclass_metrics(logits, labels, n_classes: int) -> dict[str, float]:
    """{accuracy, precision, recall, f1} of one Extended MUStARD task (Table 3).

    ``n_classes == 2`` (sarcasm): a single logit per sample (predicted 1 when > 0) or ``(N, 2)``
    logits (argmax); P/R/F1 are those of the positive class 1. ``n_classes >= 3`` (sentiment 3,
    emotion 9): argmax of ``(N, K)`` logits; P/R/F1 are **macro** averages over the classes present
    in the labels or the predictions (scikit-learn's default; the paper does not specify the
    averaging), with ``zero_division=0``.
    """
    logits, labels = np.asarray(logits), np.asarray(labels)
    if n_classes == 2:
        return _positive_class_scores(*sample_decisions("mustard", "binary", logits, labels))
    if logits.ndim != 2 or logits.shape[1] != n_classes:
        raise ValueError(f"expected logits (N, {n_classes}), got shape {logits.shape}")
    _, pred = sample_decisions("mustard", "multiclass", logits, labels)
    p, r, f, _ = precision_recall_fscore_support(labels, pred, average="macro", zero_division=0)
    return _floats(accuracy_score(labels, pred), p, r, f)


def sample_decisions(benchmark: str, kind: str, outputs, labels, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``(label, prediction)`` of the evaluated samples of one task: the decision rule the CheXpert
    and MUStARD metrics above are computed from, and what the sample-level tests of
    :mod:`qmtl_utils.studies.references` count. CheXpert: only negative/positive samples, label 1 =
    positive, prediction Eq. (25) >= ``threshold``; binary tasks ``logit > 0`` (or argmax of 2
    logits); multi-class argmax; regression the score itself."""
    outputs, labels = np.asarray(outputs, dtype=np.float64), np.asarray(labels)
    if benchmark == "chexpert":
        keep = (labels == NEGATIVE) | (labels == POSITIVE)
        return (labels[keep] == POSITIVE).astype(np.int64), (binary_positive_probability(outputs[keep]) >= threshold).astype(
            np.int64
        )
    if kind == "regression":
        return labels.astype(np.float64), outputs.reshape(-1)
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        return labels.astype(np.int64), outputs.argmax(axis=1)
    return labels.astype(np.int64), (outputs.reshape(-1) > 0).astype(np.int64)


def sample_scores(benchmark: str, kind: str, outputs, labels) -> np.ndarray:
    """The positive-class probability of each sample :func:`sample_decisions` evaluates, for the
    binary decisions (CheXpert's Eq. (25), a sigmoid of a single logit, a softmax of two); NaN for
    multi-class and regression tasks. What the AUROC of :func:`auroc_test` ranks."""
    outputs, labels = np.asarray(outputs, dtype=np.float64), np.asarray(labels)
    if benchmark == "chexpert":
        keep = (labels == NEGATIVE) | (labels == POSITIVE)
        return binary_positive_probability(outputs[keep])
    if kind == "regression" or (outputs.ndim == 2 and outputs.shape[1] > 2):
        return np.full(len(labels), np.nan)
    if outputs.ndim == 2 and outputs.shape[1] == 2:
        return expit(outputs[:, 1] - outputs[:, 0])
    return expit(outputs.reshape(-1))


def balanced_accuracy(labels, predictions) -> float:
    """The mean over the classes present in ``labels`` of each class's recall: 1/K for a constant
    prediction whatever the class balance (where accuracy can be 0.97 on a 97 % majority)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    classes = np.unique(labels)
    if not len(classes):
        return float("nan")
    return float(np.mean([np.mean(predictions[labels == c] == c) for c in classes]))


def auroc_test(labels, scores) -> tuple[float, float]:
    """AUROC of ``scores`` for binary ``labels`` (1 positive) and the one-sided p-value of AUROC > 0.5:
    the Mann-Whitney U test (AUROC = U / (n+ n-), ties counted half). NaN where a class is absent."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    positive, negative = scores[labels == 1], scores[labels == 0]
    if not len(positive) or not len(negative) or np.isnan(scores).any():
        return float("nan"), float("nan")
    test = stats.mannwhitneyu(positive, negative, alternative="greater")
    return float(test.statistic / (len(positive) * len(negative))), float(test.pvalue)


def signal_metrics(benchmark: str, kind: str, outputs, labels) -> dict[str, float]:
    """Beside Table 3's metrics, what says whether a classifier carries signal whatever the class
    balance: ``balanced_accuracy`` (every classification task) and ``auroc`` (the binary decisions:
    CheXpert after Eq. (25), the binary GLUE tasks, sarcasm); empty for regression."""
    if kind == "regression":
        return {}
    label, prediction = sample_decisions(benchmark, kind, outputs, labels)
    out = {"balanced_accuracy": balanced_accuracy(label, prediction)}
    scores = sample_scores(benchmark, kind, outputs, labels)
    if not np.isnan(scores).all():
        out["auroc"] = auroc_test(label, scores)[0]
    return out


def metric_rows(per_task: Mapping[str, Mapping[str, float]], names: Sequence[str] | None = None, **columns) -> list[dict]:
    """``{task: {metric: value}}`` as tidy rows ``{**columns, task, metric, value}`` (all metrics of
    each task in their order, or only ``names``)."""
    return [
        {**columns, "task": task, "metric": name, "value": float(values[name])}
        for task, values in per_task.items()
        for name in (names or values)
    ]


def predicted_classes(outputs) -> np.ndarray:
    """Class predictions ``(N, T)`` from per-task logits: ``logit > 0`` for 1-logit tasks, argmax otherwise."""
    outputs = [np.asarray(o) for o in outputs]
    return np.stack([(o[:, 0] > 0).astype(np.int64) if o.shape[1] == 1 else o.argmax(1) for o in outputs], 1)


def accuracy_macro_f1(labels, pred) -> dict[str, float]:
    """Accuracy and macro-averaged F1 (``zero_division=0``) of one task's class predictions."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    return {
        "accuracy": float((pred == labels).mean()),
        "macro_f1": float(f1_score(labels, pred, average="macro", zero_division=0)),
    }


def majority_accuracy(train_labels, test_labels, n_classes: int) -> float:
    """The chance baseline of a classification task: accuracy on ``test_labels`` of always predicting
    the most frequent class of ``train_labels``."""
    majority = np.bincount(np.asarray(train_labels), minlength=n_classes).argmax()
    return float((np.asarray(test_labels) == majority).mean())


def mean_over_tasks(
    per_task: Mapping[str, Mapping[str, float]], names: Sequence[str] = ("accuracy", "precision", "recall", "f1")
) -> dict[str, float]:
    """Each metric averaged over the tasks (tasks without an evaluable sample, NaN, are skipped)."""
    return {m: float(np.nanmean([v[m] for v in per_task.values()])) for m in names}
