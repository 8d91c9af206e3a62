"""``run_all.sh --plan``: every unit a profile implies, its inputs, cache state, disk and time from a
calibration (here a fixed calibration, so the arithmetic can be checked by hand)."""

import json
import math
import os
import subprocess
import sys

import pytest

from qmtl_utils.data import datasets
from qmtl_utils.runtime import profiles
from qmtl_utils.runtime.cache import Cache, make_key
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.runtime.paths import repo_root
from qmtl_utils.spec import HEAD_VARIANTS
from qmtl_utils.studies import benchmark_runs, open_choices, plan, task_scaling

STEP = 0.5  # seconds per training step in the fixed calibration


def fixed_calibration(profile: dict) -> dict:
    s = task_scaling.coerce(profile["task_scaling"])
    return {
        "device": "cpu",
        "torch_threads": 2,
        "max_batch": 8,
        "steps": {f"{b}/{v}": {"step_s": STEP} for b in ("glue", "chexpert", "mustard") for v in HEAD_VARIANTS},
        "memory": {"glue": 2e9, "chexpert": 3e9, "mustard": 1e9},
        "noise_per_sample_s": 0.01,
        "scaling_epoch_s": {f"{T}/{v}": 1e-3 for T in s.tasks for v in s.variants},
        "encoder_per_text_s": 0.002,
    }


def write_run(folder, record: dict) -> None:
    (folder / "run.json").write_text(json.dumps(record))


def by_stage(the_plan):
    out = {}
    for unit in the_plan.units:
        out.setdefault(unit.stage, []).append(unit)
    return out


def test_paper_plan_lists_every_run_with_its_inputs(tmp_path, monkeypatch):
    monkeypatch.setenv("QMTL_DATA_DIR", str(tmp_path / "no-data"))
    profile = profiles.get_profile("paper")
    the_plan = plan.make_plan("paper", Cache(tmp_path / "cache"), fixed_calibration(profile))
    stages = by_stage(the_plan)
    assert len(stages["03_training"]) == 3 * 4 * 5  # 3 benchmarks x 4 heads x 5 seeds or folds
    assert len(stages["04_ablations"]) == 5 * 5  # the 5 configurations beyond the paper's, 5 folds each
    scaling = [u for u in stages["04a_task_scaling_and_shots"] if u.what.startswith("task scaling")]
    assert len(scaling) == 6 * 3 * 5 and any("T=64 qmtl" in u.what and "(mps)" in u.what for u in scaling)
    assert len(stages["04b_open_choices"]) == len(open_choices.planned(profile)) * 5
    assert [u.what.split(" on ")[0] for u in stages["05_noise"]] == [f"noise level p={p:g}" for p in (0, 0.01, 0.05, 0.1, 0.2)]
    assert all(u.cached is None for u in stages["03_training"])  # no dataset cached: unknown
    inputs = {name: present for name, present, _ in the_plan.inputs}
    assert inputs["GLUE data"] is False and inputs["CheXpert images"] is False and inputs["Extended MUStARD"] is False

    # GLUE: 15 epochs of capped batches of 128 per task, validated every 2,000 updates
    per_epoch = sum(min(math.ceil(n / 128), 300) for n, _ in plan.GLUE_SIZES.values())
    updates = 15 * per_epoch
    evals = math.ceil(updates / 2000) * sum(math.ceil(v / 128) for _, v in plan.GLUE_SIZES.values())
    glue = next(u for u in stages["03_training"] if u.what == "glue qmtl seed 0")
    assert glue.seconds_max == pytest.approx(updates * STEP + evals * STEP * plan.EVAL_FRACTION)
    # CheXpert: 20,000 images in 5 folds -> 12,000 for training, 30 epochs, validation every 2
    chexpert = next(u for u in stages["03_training"] if u.what == "chexpert qmtl fold 0")
    per_epoch = math.ceil(12000 / 32) * STEP + math.ceil(4000 / 32) * STEP * plan.EVAL_FRACTION / 2
    assert chexpert.seconds_max == pytest.approx(30 * per_epoch + math.ceil(4000 / 32) * STEP * plan.EVAL_FRACTION)
    # the token features of 01 at the paper's size are bounded by 128 tokens x 768 x float16 per text
    qqp = next(u for u in stages["01_backbones"] if "qqp" in u.what)  # per task: QQP's pairs, both sentences
    texts = 2 * (363846 + 40430)
    assert f"({texts:,} texts)" in qqp.what and qqp.disk == texts * 128 * 768 * 2
    assert qqp.seconds == pytest.approx(texts * 0.002) and len(stages["01_backbones"]) == 9

    text = plan.format_plan(the_plan)
    assert "MISSING  GLUE data" in text and "total: expected" in text and "03_training: 60 units, 0 cached" in text


def test_plan_sees_cached_runs_and_their_recorded_length(tmp_path):
    profile = profiles.get_profile("smoke")
    cache = Cache(tmp_path)
    data = datasets.mustard_dataset(cache, profile["data"]["mustard"], compute=True)
    settings = profile["training"]["mustard"]
    stage, params = "run_mustard", benchmark_runs._run_params("qmtl", 0, settings, None)
    key = make_key(stage, params, [data.key], code_fingerprint(benchmark_runs.__name__))
    cache.put(stage, key, lambda folder: write_run(folder, {"n_epochs": 2}), params=params)
    units = {u.what: u for u in plan.make_plan("smoke", cache, fixed_calibration(profile)).units}
    assert units["mustard qmtl fold 0"].cached is True and units["mustard classical fold 0"].cached is False
    assert units["glue qmtl seed 0"].cached is None  # its dataset is not cached

    # GLUE runs that stopped early set the expected length; the bound stays the full protocol
    glue_settings = profile["training"]["glue"]
    for i, updates in enumerate((6, 10)):
        p = benchmark_runs._run_params("classical", i, glue_settings, None)
        cache.put(
            "run_glue",
            make_key("run_glue", p, ["x"], "c"),
            lambda folder, u=updates: write_run(folder, {"n_updates": u}),
            params=p,
        )
    glue = {u.what: u for u in plan.make_plan("smoke", cache, fixed_calibration(profile)).units}["glue qmtl seed 0"]
    assert "8 of at most" in glue.note and glue.seconds < glue.seconds_max


@pytest.mark.slow
def test_run_all_plan_calibrates_and_runs_nothing(tmp_path):
    env = dict(
        os.environ,
        QMTL_CACHE_DIR=str(tmp_path / "cache"),
        QMTL_RUNS_DIR=str(tmp_path / "runs"),
        QMTL_FIGURES_DIR=str(tmp_path / "figures"),
    )
    env["QMTL_PYTHON"] = env.get("QMTL_PYTHON") or sys.executable
    done = subprocess.run(
        ["bash", str(repo_root() / "run_all.sh"), "--profile", "smoke", "--plan", "--plan-summary"],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[calibrate] chexpert qmtl:" in done.stdout and "03_training: 12 units, 0 cached" in done.stdout
    assert "total: expected" in done.stdout
    assert not (tmp_path / "runs").exists() and not (tmp_path / "figures").exists()


def test_makespan_deals_units_to_the_first_free_process():
    assert plan.makespan([5, 3, 3, 1], 2) == 6  # [5, 1] and [3, 3]
    assert plan.makespan([5, 3, 3, 1], 1) == 12 and plan.makespan([], 4) == 0.0
    assert plan.makespan([2, 2, 2], 8) == 2


def test_lite_plan_caps_glue_skips_what_is_absent_and_counts_the_pool(tmp_path, monkeypatch):
    from lite_fixtures import write_lite_data

    for name, value in write_lite_data(tmp_path / "data", n_glue=40, n_mustard=60).items():
        monkeypatch.setenv(name, value)
    profile = profiles.get_profile("lite", glue_tasks="cola,qqp")
    calibration = {
        **fixed_calibration(profile),
        "encoder_text_s": 0.001,
        "encoder_token_s": 0.0001,
        "notebook_s": 4.0,
        "tsv_row_s": 1e-5,
        "figure_s": 0.5,
    }
    monkeypatch.setenv("QMTL_WORKERS", "2")
    the_plan = plan.make_plan("lite", Cache(tmp_path / "cache"), calibration, glue_tasks="cola,qqp", executor_name="local")
    stages = by_stage(the_plan)
    assert {what for what, _ in the_plan.skipped} >= {
        "04_ablations",
        "05_noise",
        "06_hardware",
        "04a_task_scaling_and_shots",
        "03_training [benchmark=chexpert]",
    }
    assert not {"04_ablations", "05_noise", "06_hardware", "04a_task_scaling_and_shots"} & set(stages)
    assert [u.what for u in stages["01_backbones"]] == [
        "GLUE token features: cola (3,043 texts)",
        "GLUE token features: qqp (8,000 texts)",
        "MUStARD text features (~3,450 utterances and context turns)",
    ]
    qqp = stages["01_backbones"][1]  # 2,000 + 2,000 pairs (capped) at 16 + 16 tokens
    assert qqp.seconds == pytest.approx(2 * 4000 * (0.001 + 0.0001 * 16))
    glue = [u for u in stages["03_training"] if u.what.startswith("glue")]
    assert len(glue) == 4 * 3 and {u.group for u in glue} == {"03 glue"}
    assert len([u for u in stages["03_training"] if u.what.startswith("mustard")]) == 4 * 5
    assert len(stages["03a_mustard_fit"]) == 4 and len(stages["04b_open_choices"]) == 3 * 5
    # the stage's wall time: two kernel starts, a pool start per benchmark, and each group dealt to 2 processes
    seconds = {g: [u.seconds for u in stages["03_training"] if u.group == g] for g in ("03 glue", "03 mustard")}
    expected = 2 * 4.0 + 2 * 4.0 + sum(plan.makespan(v, the_plan.workers) for v in seconds.values())
    assert the_plan.stage_seconds("03_training") == pytest.approx(expected)
    assert "skipped  05_noise: CheXpert not found" in plan.format_plan(the_plan)
