"""Per-benchmark experiments: every (variant, replicate) run is cached, so a re-run trains nothing."""

import pytest

from qmtl_utils import datasets, experiments
from qmtl_utils.benchmarks import HEAD_VARIANTS
from qmtl_utils.cache import Cache, MissingCacheEntry
from qmtl_utils.profiles import get_profile


@pytest.mark.slow
def test_mustard_runs_are_cached_and_tabulated(tmp_path, capsys):
    profile = get_profile("smoke")
    cache = Cache(tmp_path / "smoke")
    with pytest.raises(MissingCacheEntry, match="00_data_prep"):
        experiments.run_benchmark(cache, profile, "mustard")
    datasets.mustard_dataset(cache, profile["data"]["mustard"], compute=True)
    with pytest.raises(MissingCacheEntry, match="03_training"):
        experiments.results_entry(cache, profile, "mustard")

    entry = experiments.run_benchmark(cache, profile, "mustard")
    metrics, runs = entry.read_csv("metrics.csv"), entry.read_csv("runs.csv")
    assert set(metrics.variant) == set(HEAD_VARIANTS) == set(runs.variant)
    assert set(metrics.metric) == {"accuracy", "precision", "recall", "f1"} and len(set(metrics.task)) == 5
    assert metrics.value.between(0, 1).all()
    assert dict(zip(runs.variant, runs.head_params)) == {"classical": 1000, "hqnn4": 258, "hqnnQ": 510, "qmtl": 78}

    capsys.readouterr()
    again = experiments.run_benchmark(cache, profile, "mustard")
    assert again.key == entry.key and "[cache] miss run_mustard" not in capsys.readouterr().out
    assert experiments.results_entry(cache, profile, "mustard").key == entry.key
