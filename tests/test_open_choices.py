"""The open-choices study (qmtl_utils.studies.open_choices): its tables against hand computations
and scipy, its plan, and one real smoke-profile run end to end."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qmtl_utils.data import datasets
from qmtl_utils.runtime.cache import Cache, MissingCacheEntry
from qmtl_utils.runtime.profiles import get_profile
from qmtl_utils.spec import benchmark_spec
from qmtl_utils.studies import benchmark_runs
from qmtl_utils.studies import open_choices as oc


def _metrics(values: dict[str, list[list[float]]], metric="accuracy") -> pd.DataFrame:
    """metrics.csv rows from {variant: [[task values] per replicate]}."""
    rows = []
    for variant, reps in values.items():
        for r, tasks in enumerate(reps):
            for t, v in enumerate(tasks):
                rows.append({"variant": variant, "label": variant, "replicate": r, "task": f"t{t}", "metric": metric, "value": v})
    return pd.DataFrame(rows)


def test_summary_by_hand():
    literal = _metrics(
        {
            "classical": [[0.8, 0.6], [0.7, 0.7], [0.9, 0.5]],
            "hqnn4": [[0.5, 0.5], [0.6, 0.4], [0.5, 0.5]],
            "hqnnQ": [[0.6, 0.6], [0.6, 0.6], [0.6, 0.6]],
            "qmtl": [[0.6, 0.6], [0.5, 0.7], [0.7, 0.5]],
        }
    )
    switched = _metrics({"qmtl": [[0.8, 0.7], [0.6, 0.9], [0.8, 0.7]]})
    choice = oc.CHOICES[0]
    changes = oc.change_table(literal, switched, choice, "mustard")
    assert len(changes) == 6 and changes["delta"].round(6).tolist() == [0.2, 0.1, 0.1, 0.2, 0.1, 0.2]
    row = oc.summary_table(changes, {"mustard": literal}).iloc[0]
    assert row["literal"] == pytest.approx(0.6) and row["switched"] == pytest.approx(0.75)
    assert row["delta"] == pytest.approx(0.15) and np.isnan(row["t_pvalue"])  # constant differences
    # against the literal classical head (0.7 per replicate) and the better HQNN (hqnnQ, 0.6)
    assert row["best_hqnn"] == "hqnnQ"
    assert row["vs_classical"] == pytest.approx(0.05) and row["vs_best_hqnn"] == pytest.approx(0.15)
    assert oc.verdict(row) == row["verdict"] == "holds"
    (sentence,) = oc.describe(oc.summary_table(changes, {"mustard": literal}))
    assert sentence.startswith("encoding order → written") and "+0.150 [" in sentence and "holds." in sentence


def test_summary_interval_and_test_match_scipy():
    rng = np.random.default_rng(0)
    lit = rng.uniform(0.4, 0.8, (5, 3))
    sw = lit + rng.normal(0.05, 0.05, (5, 3))
    literal = _metrics({v: (lit + i * 0.01).tolist() for i, v in enumerate(("classical", "hqnn4", "hqnnQ", "qmtl"))})
    literal.loc[literal.variant == "qmtl", "value"] = lit.ravel()
    switched = _metrics({"qmtl": sw.tolist()})
    row = oc.summary_table(oc.change_table(literal, switched, oc.CHOICES[0], "chexpert"), {"chexpert": literal}).iloc[0]
    a, b = sw.mean(1), lit.mean(1)
    assert row["t_pvalue"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    low, high = stats.t.interval(0.95, 4, loc=(a - b).mean(), scale=stats.sem(a - b))
    assert (row["delta_low"], row["delta_high"]) == (pytest.approx(low), pytest.approx(high))


def test_hqnn_choice_replaces_the_literal_hqnn_in_the_comparison():
    literal = _metrics({"classical": [[0.7]] * 3, "hqnn4": [[0.5]] * 3, "hqnnQ": [[0.6]] * 3, "qmtl": [[0.65]] * 3})
    switched = _metrics({"hqnn4": [[0.9]] * 3})
    choice = next(c for c in oc.CHOICES if c.variant == "hqnn4")
    row = oc.summary_table(oc.change_table(literal, switched, choice, "mustard"), {"mustard": literal}).iloc[0]
    assert row["delta"] == pytest.approx(0.4) and row["best_hqnn"] == "hqnn4"
    assert row["vs_best_hqnn"] == pytest.approx(-0.25) and oc.verdict(row) == "does not hold"


def test_glue_primary_metric_family():
    literal = pd.DataFrame(
        {
            "variant": "qmtl",
            "label": "QMTL",
            "replicate": 0,
            "task": ["cola", "cola"],
            "metric": ["primary:matthews_corr", "secondary:accuracy"],
            "value": [0.2, 0.7],
        }
    )
    switched = literal.assign(value=[0.3, 0.9])
    changes = oc.change_table(literal, switched, oc.CHOICES[0], "glue")
    assert changes["metric"].tolist() == ["primary"] and changes["delta"].iloc[0] == pytest.approx(0.1)


def test_plan_and_switched_profile():
    demo = get_profile("demo")
    pairs = oc.planned(demo)
    assert pairs and all(b in c.benchmarks for c, b in pairs)
    assert len(oc.planned(get_profile("paper"))) == sum(len(c.benchmarks) for c in oc.CHOICES)
    bad = {**demo, "open_choices": {"runs": [["angle_sigmoid", "glue"]]}}
    with pytest.raises(ValueError, match="unknown open-choice runs"):
        oc.planned(bad)
    normalisation = next(c for c in oc.CHOICES if c.name == "loss normalisation")
    switched = oc.switched_profile(demo, normalisation, "chexpert")
    assert switched["training"]["chexpert"]["train"]["loss_normalisation"] == "entries"
    assert switched["training"]["chexpert"]["train"]["lr"] == demo["training"]["chexpert"]["train"]["lr"]
    assert "loss_normalisation" not in demo["training"]["chexpert"]["train"]  # the profile is not mutated
    weights = next(c for c in oc.CHOICES if c.name == "task weights")
    assert oc.switched_profile(demo, weights, "mustard")["training"]["mustard"]["qmtl_task_weight"] == 1.0
    placement = next(c for c in oc.CHOICES if c.name == "qubit placement")
    assert benchmark_spec("glue", placement.spec_overrides("glue")).task_wires[5] == (8, 9)  # MNLI last


@pytest.mark.slow
def test_smoke_study_trains_each_switch_and_reuses_the_literal_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QMTL_EXECUTOR", "serial")  # every run computed here, one line each
    profile = get_profile("smoke")
    profile["open_choices"] = {"runs": [["encoding_written", "mustard"], ["hqnn_no_ry", "mustard"]]}
    cache = Cache(tmp_path / "smoke")
    datasets.mustard_dataset(cache, profile["data"]["mustard"], compute=True)
    literal = benchmark_runs.run_benchmark(cache, profile, "mustard").read_csv("metrics.csv")
    capsys.readouterr()
    entry = oc.run_open_choices(cache, profile)
    out = capsys.readouterr().out
    assert out.count("[serial] ") == 2 and out.count(" done in ") == 2  # one switched run each, the literal ones reused
    changes, summary = entry.read_csv("open_choices.csv"), entry.read_csv("summary.csv")
    assert set(summary["choice"]) == {"literal reading", "encoding order", "HQNN ansatz"}
    assert set(summary["metric"]) == {"accuracy", "f1"}
    lit = summary[summary.id == "literal"]
    assert (lit.delta == 0).all() and np.allclose(lit.literal, lit.switched)
    qmtl = changes[(changes.choice == "encoding order") & (changes.metric == "accuracy")]
    expected = literal[(literal.variant == "qmtl") & (literal.metric == "accuracy")].set_index("task").value
    assert np.allclose(qmtl.set_index("task").literal.loc[expected.index], expected)
    assert np.allclose(changes["delta"], changes["switched"] - changes["literal"])
    capsys.readouterr()
    assert oc.run_open_choices(cache, profile).key == entry.key
    assert oc.run_open_choices(cache, profile, compute=False).key == entry.key
    assert "[cache] miss" not in capsys.readouterr().out
    with pytest.raises(MissingCacheEntry, match="00_data_prep"):  # the first missing input is named
        oc.run_open_choices(Cache(tmp_path / "empty" / "smoke"), profile, compute=False)
