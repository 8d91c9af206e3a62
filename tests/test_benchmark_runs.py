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


def _expected_steps(benchmark: str, settings: dict, run: dict) -> list[int]:
    """The steps at which a protocol validates (Appendix C; a final check after a short run)."""
    if benchmark == "glue":  # every validate_every updates, and after the last update
        every, n = settings["train"]["validate_every"], run["n_updates"]
        return list(range(every, n + 1, every)) + ([n] if n % every else [])
    return list(range(1, run["n_epochs"] + 1))  # CheXpert and MUStARD: one row per epoch


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", ["glue", "chexpert", "mustard"])
def test_every_run_keeps_its_history_and_its_checkpoint_is_the_best_row(tmp_path, benchmark):
    """Each run's ``history.csv`` has one row per validation check, the results entry gathers them,
    and the best-validation row is the checkpoint the run reports: its step and score in run.json,
    GLUE's recorded dev metrics averaging to its score, and the stored head equal to a retraining
    stopped at that epoch (same seed, same thread count as the executor)."""
    from qmtl_utils.runtime.executor import unit_threads

    profile = get_profile("smoke")
    settings = profile["training"][benchmark]
    # a few validation checks, so the best row is not trivially the only one; CheXpert validates
    # every second epoch and after the last, so epoch 1 has no validation score
    settings["train"].update(
        {"glue": {"validate_every": 4}, "mustard": {"max_epochs": 4}, "chexpert": {"max_epochs": 3, "validate_every_epochs": 2}}[
            benchmark
        ]
    )
    cache = Cache(tmp_path / "smoke")
    getattr(datasets, f"{benchmark}_dataset")(cache, profile["data"][benchmark], compute=True)
    results = benchmark_runs.run_benchmark(cache, profile, benchmark, variants=("qmtl",))
    gathered = results.read_csv("history.csv")
    entry = benchmark_runs.run_entry(cache, profile, benchmark, "qmtl", 0)
    run, history = entry.read_json("run.json"), entry.read_csv("history.csv")

    assert list(history.columns) == list(benchmark_runs.HISTORY_COLUMNS)
    assert list(history.step) == _expected_steps(benchmark, settings, run) and len(history) >= 3
    assert history.train_loss.notna().all() and (history.lr > 0).all()
    assert gathered[list(benchmark_runs.HISTORY_COLUMNS)].equals(history)
    assert set(gathered.variant) == {"qmtl"} and set(gathered.replicate) == {0}
    if benchmark == "chexpert":
        assert history.validation.isna().tolist() == [True, False, False]
    best = benchmark_runs.best_row(history)
    assert run["validation_metric"] == benchmark_runs.VALIDATION_METRIC[benchmark]
    assert (best.step, best.epoch) == (run["best_step"], run["best_epoch"])
    assert best.validation == pytest.approx(run["best_validation"], abs=1e-12)
    assert (history.validation.iloc[: history.index.get_loc(best.name)].dropna() < best.validation).all()  # first of ties

    if benchmark == "glue":  # the recorded dev metrics are the checkpoint's: their primary macro average
        metrics = results.read_csv("metrics.csv")
        primary = metrics[metrics.metric.str.startswith("primary:")].value.fillna(0.0)
        assert primary.mean() == pytest.approx(best.validation, abs=1e-12)
        return
    # CheXpert, MUStARD: the stored head is the weights after the best epoch
    settings["train"]["max_epochs"] = int(best.epoch)
    inputs = benchmark_runs._inputs(cache, profile, benchmark)[1]
    before = torch.get_num_threads()
    torch.set_num_threads(unit_threads())
    try:
        retrained = benchmark_runs._RUNNERS[benchmark](benchmark_runs.benchmark_spec(benchmark), settings, "qmtl", 0, **inputs)
    finally:
        torch.set_num_threads(before)
    stored = torch.load(entry.file("head.pt"), weights_only=True)
    for name, value in retrained.checkpoint["head"].state_dict().items():
        assert torch.equal(value, stored[name]), name
    assert retrained.history.equals(history.iloc[: int(best.epoch)].reset_index(drop=True))
