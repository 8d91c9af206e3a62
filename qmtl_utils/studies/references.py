"""What every result is read against: the chance baseline, the attainable ceiling, and the signal
criterion (beyond the paper; stage ``references_<benchmark>``, written by ``03_training``).

For every replicate (GLUE seed, CheXpert or MUStARD fold) and task, on exactly the test split the
training runs are scored on (GLUE: the dev split; CheXpert and MUStARD: the test fold):

* **majority baseline** — the most frequent class of the rows the run may learn from (every row
  outside the test split), predicted for every test sample; STS-B's constant prediction ranks
  nothing, so its correlations are 0. No head that ignores its input can do better in accuracy.
* **ceiling** (demo profiles only) — what a well-fit model of the generator's *true* latent
  variables reaches: multinomial logistic regression on the latents for CheXpert (the four image
  factors) and MUStARD (the eight utterance latents), fitted on the same non-test rows; GLUE's demo
  labels are a deterministic function of the generated meaning, so its ceiling is the noiseless
  label itself (1 on the classification tasks; STS-B's noiseless score ``(4 - k)/4``). Real data
  have no known latents: the paper profile has no ceiling.

Both go through the same metric code as the heads. ``signal.csv`` then asks, per task, whether the
ceiling and each head **carry signal**: their test predictions depend on the label (one-sided
Fisher test for binary decisions, chi-square for more classes, :func:`dependence_pvalue`) and, for
binary decisions, their scores rank positives above negatives (AUROC > 0.5, one-sided Mann-Whitney,
:func:`~qmtl_utils.training.metrics.auroc_test`); STS-B: Spearman's ρ > 0. ``signal_p`` is the
largest of those p-values; beside it ``p_value`` tests accuracy against the majority class (exact
binomial), which a head trained with class weights (CheXpert's Eq. (23)) can miss on a 97 % majority
while carrying signal by design, and ``balanced_accuracy`` and ``auroc`` say how much. CheXpert and
MUStARD test folds are disjoint, so their samples are pooled over replicates; GLUE's seeds share one
dev split, so each seed is tested alone and the largest p-value is reported. The **signal
criterion** holds when the classical head carries signal (``signal_p`` < :data:`ALPHA`) on every
task where the ceiling does: a demo that fails it is too small to show anything, whatever the
quantum heads do. The demo's WNLI has no ceiling (:data:`NO_CEILING` says why).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from qmtl_utils.data import datasets
from qmtl_utils.runtime.cache import Cache, Entry, write_csv
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.spec import BENCHMARKS, HEAD_VARIANTS
from qmtl_utils.studies import benchmark_runs
from qmtl_utils.training.metrics import (
    NEGATIVE,
    POSITIVE,
    auroc_test,
    balanced_accuracy,
    chexpert_metrics,
    glue_metrics,
    multiclass_metrics,
    sample_decisions,
    sample_scores,
    signal_metrics,
)

ALPHA = 0.01  # significance level of the signal criterion
BASELINE, CEILING = "majority baseline", "ceiling"
# Tasks whose demo label no backbone of the paper's class can see, so a ceiling of 1.0 would claim what
# cannot be attained: the reason is shown where the ceiling would be.
NO_CEILING = {
    "wnli": "no ceiling: the demo's WNLI label is who the pronoun refers to, which no head reads from the "
    "frozen sentence encoder (every head sits at the majority class, as on the real GLUE, where "
    "every baseline predicts the majority); the generator's noiseless label (1.0) is not attainable "
    "by this backbone class"
}
_CORRELATIONS = ("spearman", "pearson", "matthews_corr")


# --------------------------------------------------------------------------- splits and latents


def test_and_fit_rows(n: int, folds, replicate: int) -> tuple[np.ndarray, np.ndarray]:
    """``(test rows, rows a model may learn from)`` of one CheXpert/MUStARD replicate (its fold)."""
    test = np.asarray(folds[replicate])
    return test, np.setdiff1d(np.arange(n), test)


def _one_hot_logits(classes: np.ndarray, n_classes: int) -> np.ndarray:
    return np.where(np.eye(n_classes)[classes] > 0, 10.0, -10.0)


def _logistic(x_fit, y_fit, x_test, n_classes: int) -> np.ndarray:
    """Log-probabilities ``(N, n_classes)`` of a multinomial logistic regression (classes absent
    from ``y_fit`` get log-probability -30)."""
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():  # convergence chatter and exp/log overflow on separable tasks
        warnings.simplefilter("ignore")
        model = LogisticRegression(C=10.0, max_iter=2000).fit(x_fit, y_fit)
        out = np.full((len(x_test), n_classes), -30.0)
        out[:, model.classes_] = np.log(np.clip(model.predict_proba(x_test), 1e-300, None))
    return out


# --------------------------------------------------------------------------- per benchmark


def _glue(entry: Entry, profile: dict) -> list[tuple]:
    """(reference, replicate, task, kind, outputs, labels) of GLUE; the same dev split for every seed."""
    tasks = datasets.read_glue(entry)
    oracle = entry.read_csv("oracle.csv") if entry.has_file("oracle.csv") else None
    out = []
    for spec in BENCHMARKS["glue"].tasks:
        if spec.name not in tasks:
            continue
        train, dev = tasks[spec.name].train, tasks[spec.name].validation
        labels = dev["label"].to_numpy(float)
        if spec.kind == "regression":
            baseline = np.full(len(dev), float(train["label"].mean()))
        else:
            majority = int(np.bincount(train["label"].astype(int)).argmax())
            baseline = _glue_outputs(spec.kind, np.full(len(dev), majority), spec.n_outputs)
        ceiling = None
        if oracle is not None and spec.name not in NO_CEILING:
            values = oracle[oracle.task == spec.name].sort_values("row").oracle.to_numpy(float)
            ceiling = values if spec.kind == "regression" else _glue_outputs(spec.kind, values.astype(int), spec.n_outputs)
        for replicate in profile["training"]["glue"]["replicates"]:
            out.append((BASELINE, replicate, spec.name, spec.kind, baseline, labels))
            if ceiling is not None:
                out.append((CEILING, replicate, spec.name, spec.kind, ceiling, labels))
    return out


def _glue_outputs(kind: str, classes: np.ndarray, n_outputs: int) -> np.ndarray:
    if kind == "multiclass":
        return _one_hot_logits(classes, n_outputs)
    return np.where(classes > 0, 10.0, -10.0)


def _chexpert(entry: Entry, profile: dict) -> list[tuple]:
    frame, _, folds = datasets.read_chexpert(entry)
    from qmtl_utils.data.chexpert import encode_labels

    labels = encode_labels(frame)  # (N, 5): 0 uncertain, 1 negative, 2 positive, -100 blank
    latents = entry.read_csv("latents.csv").drop(columns="Path").to_numpy(float) if entry.has_file("latents.csv") else None
    out = []
    for replicate in profile["training"]["chexpert"]["replicates"]:
        test, fit = test_and_fit_rows(len(frame), folds, replicate)
        for t, spec in enumerate(BENCHMARKS["chexpert"].tasks):
            y_fit = labels[fit, t]
            known = y_fit >= 0
            positive = int(np.sum(y_fit == POSITIVE) >= np.sum(y_fit == NEGATIVE))
            constant = _one_hot_logits(np.full(len(test), POSITIVE if positive else NEGATIVE), 3)
            out.append((BASELINE, replicate, spec.name, spec.kind, constant, labels[test, t]))
            if latents is not None:
                logits = _logistic(latents[fit][known], y_fit[known], latents[test], 3)
                out.append((CEILING, replicate, spec.name, spec.kind, logits, labels[test, t]))
    return out


def _mustard(entry: Entry, profile: dict) -> list[tuple]:
    features, label_frame, folds = datasets.read_mustard(entry)
    latents = np.load(entry.file("latents.npy")) if entry.has_file("latents.npy") else None
    out = []
    for replicate in profile["training"]["mustard"]["replicates"]:
        test, fit = test_and_fit_rows(len(features), folds, replicate)
        for spec in BENCHMARKS["mustard"].tasks:
            y = label_frame[spec.name].to_numpy(int)
            n_classes = max(spec.n_outputs, 2)
            majority = int(np.bincount(y[fit], minlength=n_classes).argmax())
            out.append(
                (BASELINE, replicate, spec.name, spec.kind, _one_hot_logits(np.full(len(test), majority), n_classes), y[test])
            )
            if latents is not None:
                out.append(
                    (CEILING, replicate, spec.name, spec.kind, _logistic(latents[fit], y[fit], latents[test], n_classes), y[test])
                )
    return out


_REFERENCES = {"glue": _glue, "chexpert": _chexpert, "mustard": _mustard}


def _metrics(benchmark: str, task: str, kind: str, outputs, labels) -> dict[str, float]:
    """The task's metrics under the same names as the heads' ``metrics.csv``."""
    if benchmark == "glue":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a constant prediction's correlation is undefined
            values = glue_metrics(task, outputs, labels)
        primary, secondary = values["names"]
        clean = {
            name: (0.0 if np.isnan(values[key]) and name in _CORRELATIONS else values[key])
            for name, key in ((primary, "primary"), (secondary, "secondary"))
        }
        return {f"primary:{primary}": clean[primary], f"secondary:{secondary}": clean[secondary]}
    if benchmark == "chexpert":
        return chexpert_metrics([outputs], labels[:, None], task_names=[task])[task]
    return multiclass_metrics(outputs, labels, max(next(t for t in BENCHMARKS[benchmark].tasks if t.name == task).n_outputs, 2))


def reference_tables(entry: Entry, profile: dict, benchmark: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(references, decisions)``: tidy metric rows (reference, replicate, task, metric, value, n)
    and the per-sample (label, prediction) of each reference, as the heads' ``predictions.csv``."""
    rows, decisions = [], []
    for reference, replicate, task, kind, outputs, labels in _REFERENCES[benchmark](entry, profile):
        label, prediction = sample_decisions(benchmark, kind, outputs, labels)
        values = {**_metrics(benchmark, task, kind, outputs, labels), **signal_metrics(benchmark, kind, outputs, labels)}
        for metric, value in values.items():
            rows.append(
                {
                    "reference": reference,
                    "replicate": replicate,
                    "task": task,
                    "metric": metric,
                    "value": float(value),
                    "n": len(label),
                }
            )
        decisions.append(
            pd.DataFrame(
                {
                    "reference": reference,
                    "replicate": replicate,
                    "task": task,
                    "label": label,
                    "prediction": prediction,
                    "score": sample_scores(benchmark, kind, outputs, labels),
                }
            )
        )
    return pd.DataFrame(rows), pd.concat(decisions, ignore_index=True)


# --------------------------------------------------------------------------- the signal criterion


def _test(benchmark: str, kind: str, parts: list[tuple[pd.DataFrame, pd.DataFrame]]) -> dict:
    """One head's (or the ceiling's) test against the majority baseline on one task.

    ``parts``: per replicate, (the head's decisions, the baseline's decisions) on the same rows.
    """
    if kind == "regression":
        pvalues, rhos = [], []
        for head, _ in parts:
            rho, p = stats.spearmanr(head.prediction, head.label, alternative="greater")
            rhos.append(0.0 if np.isnan(rho) else rho)
            pvalues.append(1.0 if np.isnan(p) else p)
        return {
            "test": "Spearman rho > 0, per seed (max p)",
            "n": len(parts[0][0]),
            "statistic": float(np.mean(rhos)),
            "baseline": 0.0,
            "p_value": float(max(pvalues)),
        }
    correct = [(int((h.prediction == h.label).sum()), int((b.prediction == b.label).sum()), len(h)) for h, b in parts]
    if benchmark == "glue":  # one dev split shared by the seeds: test each seed, report the largest p
        pvalues = [
            stats.binomtest(k, n, min(max(kb / n, 1e-12), 1 - 1e-12), alternative="greater").pvalue for k, kb, n in correct
        ]
        k, kb, n = (sum(c[i] for c in correct) for i in range(3))
        signal = [_signal(h) for h, _ in parts]
        out = {
            "test": "binomial, per seed (max p)",
            "n": correct[0][2],
            "statistic": k / n,
            "baseline": kb / n,
            "p_value": float(max(pvalues)),
        }
        for key in ("dependence_p", "auroc_p"):
            out[key] = float(max(x[key] for x in signal))
        for key in ("balanced_accuracy", "auroc"):
            out[key] = float(np.mean([x[key] for x in signal]))
        return out
    k, kb, n = (sum(c[i] for c in correct) for i in range(3))
    p0 = min(max(kb / n, 1e-12), 1 - 1e-12)
    pooled = pd.concat([h for h, _ in parts], ignore_index=True)
    return {
        "test": "binomial, folds pooled",
        "n": n,
        "statistic": k / n,
        "baseline": kb / n,
        "p_value": float(stats.binomtest(k, n, p0, alternative="greater").pvalue),
        **_signal(pooled),
    }


def _signal(decisions: pd.DataFrame) -> dict[str, float]:
    """Does a classifier's output carry signal? ``dependence_p`` (:func:`dependence_pvalue`),
    ``balanced_accuracy``, and for binary decisions ``auroc`` with its one-sided ``auroc_p``."""
    auroc, auroc_p = float("nan"), float("nan")
    if "score" in decisions and decisions.score.notna().all() and set(decisions.label) <= {0, 1}:
        auroc, auroc_p = auroc_test(decisions.label, decisions.score)
    return {
        "dependence_p": dependence_pvalue(decisions.label, decisions.prediction),
        "balanced_accuracy": balanced_accuracy(decisions.label, decisions.prediction),
        "auroc": auroc,
        "auroc_p": auroc_p,
    }


def dependence_pvalue(label, prediction) -> float:
    """Does the prediction depend on the label at all, whatever the class prior? Binary: one-sided
    Fisher exact test on the 2x2 table (odds ratio > 1, i.e. the positive class predicted more often
    when it is the label); more classes: the chi-square test of independence of the confusion
    matrix. 1.0 when the head predicts one class only (a constant carries no information).

    Beside :func:`_test`'s accuracy test: a head trained with class weights (CheXpert's Eq. (23))
    trades accuracy for minority-class recall, and can carry signal while scoring below the
    majority class in accuracy."""
    table = pd.crosstab(pd.Series(np.asarray(label), name="label"), pd.Series(np.asarray(prediction), name="prediction"))
    if table.shape[0] < 2 or table.shape[1] < 2:
        return 1.0
    if table.shape == (2, 2):
        return float(stats.fisher_exact(table.to_numpy(), alternative="greater").pvalue)
    return float(stats.chi2_contingency(table.to_numpy()).pvalue)


def signal_table(benchmark: str, decisions: pd.DataFrame, predictions: dict[tuple[str, int], pd.DataFrame]) -> pd.DataFrame:
    """Per task and head (the ceiling first), the test of :func:`_test` against the majority baseline.

    ``decisions``: :func:`reference_tables`'s second table; ``predictions``: ``{(variant, replicate):
    predictions.csv}`` of the training runs. Columns: task, model (a head variant or the ceiling), test,
    n, statistic (pooled accuracy or mean ρ), baseline (the majority class's accuracy), p_value
    (accuracy above it), for the classification tasks ``dependence_p``, ``balanced_accuracy``,
    ``auroc`` and ``auroc_p`` (binary decisions), then ``signal_p`` (the criterion's p: the largest of
    dependence_p and auroc_p; Spearman's for STS-B) and ``significant`` (``signal_p`` < ALPHA).
    """
    rows = []
    replicates = sorted(decisions.replicate.unique())
    heads = [CEILING] if (decisions.reference == CEILING).any() else []
    heads += [v for v in HEAD_VARIANTS if any((v, r) in predictions for r in replicates)]
    for spec in BENCHMARKS[benchmark].tasks:
        if spec.name not in set(decisions.task):
            continue
        base = {
            r: decisions[(decisions.reference == BASELINE) & (decisions.replicate == r) & (decisions.task == spec.name)]
            for r in replicates
        }
        for head in heads:
            if head == CEILING and not ((decisions.reference == CEILING) & (decisions.task == spec.name)).any():
                continue  # no ceiling for this task (NO_CEILING)
            parts = []
            for r in replicates:
                if head == CEILING:
                    own = decisions[(decisions.reference == CEILING) & (decisions.replicate == r) & (decisions.task == spec.name)]
                else:
                    table = predictions[(head, r)]
                    own = table[table.task == spec.name]
                parts.append((own.reset_index(drop=True), base[r].reset_index(drop=True)))
            result = _test(benchmark, spec.kind, parts)
            signal_p = (
                result["p_value"]
                if spec.kind == "regression"
                else float(np.nanmax([result["dependence_p"], result.get("auroc_p", np.nan)]))
            )
            rows.append({"task": spec.name, "model": head, **result, "signal_p": signal_p, "significant": signal_p < ALPHA})
    return pd.DataFrame(rows)


def criterion(signal: pd.DataFrame, head: str = "classical") -> pd.DataFrame:
    """Per task: does the ceiling carry signal, does ``head``, and does the criterion hold there (the
    head carries signal wherever the ceiling does; where the profile has no ceiling at all, wherever
    it is tested; a task without a ceiling in a profile that has them (:data:`NO_CEILING`) is not
    required)."""
    table = signal.pivot(index="task", columns="model", values="significant")
    if CEILING in table:
        ceiling = table[CEILING].astype("boolean").fillna(False).astype(bool)
    else:
        ceiling = pd.Series(True, index=table.index)
    out = pd.DataFrame({"ceiling_significant": ceiling, f"{head}_significant": table[head]})
    out["holds"] = ~out["ceiling_significant"] | out[f"{head}_significant"]
    return out.reset_index()


# --------------------------------------------------------------------------- the cached stage


def baselines_and_ceilings(cache: Cache, profile: dict, benchmark: str, *, variants=HEAD_VARIANTS, compute: bool = True) -> Entry:
    """The majority-class baseline and the ceiling of each task, and whether each head carries signal:
    stage ``references_<benchmark>``, ``references.csv`` (baseline and ceiling metrics),
    ``signal.csv`` (:func:`signal_table`) and ``criterion.csv`` (:func:`criterion`), computed from the
    benchmark's dataset and the predictions of every training run of ``results_<benchmark>``
    (``variants``: the heads of that results table)."""
    settings = profile["training"][benchmark]
    data_entry = getattr(datasets, f"{benchmark}_dataset")(cache, profile["data"][benchmark])
    runs = {
        (v, r): benchmark_runs.run_entry(cache, profile, benchmark, v, r, data_key=data_entry.key)
        for v in variants
        for r in settings["replicates"]
    }
    results = benchmark_runs.results_entry(cache, profile, benchmark, variants=variants, data_key=data_entry.key)

    def write(folder) -> None:
        table, decisions = reference_tables(data_entry, profile, benchmark)
        signal = signal_table(benchmark, decisions, {k: e.read_csv("predictions.csv") for k, e in runs.items()})
        write_csv(table, folder / "references.csv")
        write_csv(signal, folder / "signal.csv")
        write_csv(criterion(signal), folder / "criterion.csv")

    params = {"replicates": settings["replicates"]}
    if tuple(variants) != HEAD_VARIANTS:
        params["variants"] = list(variants)
    stage, upstream, code = f"references_{benchmark}", [data_entry.key, results.key], code_fingerprint(__name__)
    if compute:
        return cache.get_or_compute(
            stage, params, write, upstream=upstream, code_version=code, meta=benchmark_runs.profile_meta(profile)
        )
    return cache.lookup(stage, params, upstream=upstream, code_version=code)
