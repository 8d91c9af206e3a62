"""The noise study's intervals (studies/noise_study.py): bootstrap over test samples and shot seeds."""

import warnings

import numpy as np
import torch

from qmtl_utils.models.factory import qmtl_config
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.spec import BENCHMARKS
from qmtl_utils.studies.noise_study import bootstrap_summary, evaluate_level


def _setup(n=40):
    torch.manual_seed(0)
    head = QMTLHead(qmtl_config(BENCHMARKS["chexpert"])).double()
    z = np.random.default_rng(1).uniform(0, 2 * np.pi, (n, head.config.d))
    with torch.no_grad():
        clean = head.expectation_values(torch.from_numpy(z)).numpy()
    # labels the noiseless head gets mostly right: positive (2) where its Eq. (25) probability is high
    with torch.no_grad():
        outputs = [o.numpy() for o in head.outputs_from_expvals(torch.from_numpy(clean))]
    labels = np.stack([np.where(o[:, 2] > o[:, 1], 2, 1) for o in outputs], axis=1)
    return head, z, clean, labels


def test_intervals_contain_the_mean_and_identical_levels_differ_by_zero():
    head, _, clean, labels = _setup()
    summary, delta = bootstrap_summary(head, {"a": clean[None], "b": clean[None]}, labels, 50, 0, reference="a", compare="b")
    ok = summary.dropna(subset=["ci_low"])
    assert ((ok.ci_low <= ok["mean"] + 1e-12) & (ok["mean"] <= ok.ci_high + 1e-12)).all()
    assert np.allclose(delta.difference, 0) and np.allclose(delta.ci_low.dropna(), 0) and not delta.excludes_zero.any()
    alone, no_delta = bootstrap_summary(head, {"a": clean[None], "b": clean[None]}, labels, 50, 0)
    assert no_delta.empty and alone.equals(summary)  # intervals only (the hardware study's use)


def test_destroyed_readout_is_detected_beyond_its_interval():
    head, _, clean, labels = _setup(80)
    summary, delta = bootstrap_summary(
        head, {"p=0": clean[None], "p=1": np.zeros_like(clean)[None]}, labels, 100, 0, reference="p=0", compare="p=1"
    )
    accuracy = delta[delta.metric == "accuracy"]
    assert (accuracy.difference < 0).all() and accuracy.excludes_zero.all()


def test_level_evaluation_is_exact_at_p0_and_reproducible():
    head, z, clean, _ = _setup(6)
    settings = {"shots": 64, "shot_seeds": 2, "seed": 3, "granularity": "native"}
    exact, estimates, info = evaluate_level(head, z, 0.0, settings)
    np.testing.assert_allclose(exact, clean, atol=1e-10)
    assert estimates.shape == (2, *clean.shape) and not np.array_equal(estimates[0], estimates[1])
    again = evaluate_level(head, z, 0.0, settings)[1]
    np.testing.assert_array_equal(again, estimates)
    assert info["n_samples"] == 6 and info["measurement_settings"] == 2


def test_a_task_without_evaluated_samples_is_nan_and_warns_nothing():
    """A task whose test samples are all uncertain or blank has no metric (NaN): the summary says so
    without numpy's "Mean of empty slice" warnings, which an executed notebook would show."""
    head, _, clean, labels = _setup(n=12)
    labels = labels.copy()
    labels[:, 0] = 0  # every sample uncertain on the first task: nothing to evaluate
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary, _ = bootstrap_summary(
            head, {"a": np.stack([clean, clean]), "b": clean[None]}, labels, 10, 0, reference="a", compare="b"
        )
    first = summary[summary.task == summary.task.iloc[0]]
    assert first["mean"].isna().all() and first.shot_seed_std.isna().all()
    assert summary[summary.task != summary.task.iloc[0]]["mean"].notna().any()
