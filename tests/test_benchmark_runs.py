"""Per-benchmark experiments: every (variant, replicate) run is cached, so a re-run trains nothing."""

import pytest
import torch

from qmtl_utils.data import datasets
from qmtl_utils.models.factory import qmtl_config
from qmtl_utils.runtime.cache import Cache, MissingCacheEntry
from qmtl_utils.runtime.profiles import get_profile
from qmtl_utils.spec import HEAD_VARIANTS
from qmtl_utils.studies import benchmark_runs


@pytest.mark.slow
def test_mustard_runs_are_cached_and_tabulated(tmp_path, capsys):
    profile = get_profile("smoke")
    cache = Cache(tmp_path / "smoke")
    with pytest.raises(MissingCacheEntry, match="00_data_prep"):
        benchmark_runs.run_benchmark(cache, profile, "mustard")
    datasets.mustard_dataset(cache, profile["data"]["mustard"], compute=True)
    with pytest.raises(MissingCacheEntry, match="03_training"):
        benchmark_runs.results_entry(cache, profile, "mustard")

    entry = benchmark_runs.run_benchmark(cache, profile, "mustard")
    metrics, runs = entry.read_csv("metrics.csv"), entry.read_csv("runs.csv")
    assert set(metrics.variant) == set(HEAD_VARIANTS) == set(runs.variant)
    assert set(metrics.metric) == {"accuracy", "precision", "recall", "f1", "balanced_accuracy", "auroc"}
    assert len(set(metrics.task)) == 5 and set(metrics[metrics.metric == "auroc"].task) == {"sarcasm"}  # binary only
    assert metrics.value.between(0, 1).all()
    assert dict(zip(runs.variant, runs.head_params)) == {"classical": 1000, "hqnn4": 258, "hqnnQ": 510, "qmtl": 78}

    capsys.readouterr()
    again = benchmark_runs.run_benchmark(cache, profile, "mustard")
    assert again.key == entry.key and "[cache] miss run_mustard" not in capsys.readouterr().out
    assert benchmark_runs.results_entry(cache, profile, "mustard").key == entry.key


@pytest.mark.slow
def test_checkpoints_reproduce_the_recorded_test_metrics(tmp_path):
    """The saved head and test features give back exactly the metrics the run recorded."""
    profile = get_profile("smoke")
    profile["training"]["mustard"]["replicates"] = [1]
    cache = Cache(tmp_path / "smoke")
    datasets.mustard_dataset(cache, profile["data"]["mustard"], compute=True)
    metrics = benchmark_runs.run_benchmark(cache, profile, "mustard", variants=("classical", "qmtl")).read_csv("metrics.csv")
    for variant in ("classical", "qmtl"):
        head, z, labels, _ = benchmark_runs.load_checkpoint(cache, profile, "mustard", variant)
        assert z.shape == (len(labels), 39) and labels.shape[1] == 5
        with torch.no_grad():
            recomputed = benchmark_runs.evaluate_outputs("mustard", head(torch.from_numpy(z)), labels)
        recorded = metrics[metrics.variant == variant].set_index(["task", "metric"]).value
        for task, values in recomputed.items():
            for name, value in values.items():
                assert value == pytest.approx(recorded[(task, name)], abs=1e-6), (variant, task, name)
    with pytest.raises(MissingCacheEntry):
        benchmark_runs.load_checkpoint(cache, profile, "mustard", "qmtl", spec_overrides={"entangle": False})


def test_spec_overrides_follow_the_capacity_rule():
    spec = benchmark_runs.benchmark_spec("chexpert", {"n_layers": 4, "entangle": False})
    config = qmtl_config(spec)
    assert (spec.d, config.d, config.entangle, config.n_layers) == (40, 40, False, 4)
    with pytest.raises(ValueError, match="unknown configuration"):
        benchmark_runs.benchmark_spec("chexpert", {"depth": 4})
    with pytest.raises(ValueError, match="unknown benchmark"):
        benchmark_runs.benchmark_spec("imagenet")
