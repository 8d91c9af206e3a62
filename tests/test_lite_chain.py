"""The whole lite chain as run_all.sh runs it, on real-format fixtures (GLUE in the original
distribution's layout, Extended MUStARD's json, annotation sheet and split_indices.p; no CheXpert):
the real data path with the profile's own settings, the real MiniLM encoder, the CheXpert stages
skipped with the reason, Figs. 5 and 7 and the claims table drawn into figures/lite/, and a second
run that does nothing."""

import os
import subprocess
import sys

import pandas as pd
import pytest
from lite_fixtures import write_lite_data

from qmtl_utils.runtime.paths import repo_root

ROOT = repo_root()
TASKS = "cola,mrpc,stsb,mnli"  # a single-sentence, a pair, the regression and the 3-class task
# measured 2026-12-06: ~6 min for all nine tasks on 2 cores beside other jobs; the limit only catches a hang
TIMEOUT_S = 2400


@pytest.fixture(scope="module")
def lite_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("lite")
    env = dict(
        os.environ,
        QMTL_CACHE_DIR=str(base / "cache"),
        QMTL_RUNS_DIR=str(base / "runs"),
        QMTL_FIGURES_DIR=str(base / "figures"),
        QMTL_PYTHON=os.environ.get("QMTL_PYTHON") or sys.executable,
        HF_HUB_OFFLINE="1",
        **write_lite_data(base / "data", n_glue=40, n_mustard=60, tasks=TASKS.split(",")),
    )
    return base, env


def run_all(env, *args):
    return subprocess.run(
        ["bash", str(ROOT / "run_all.sh"), "--profile", "lite", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


@pytest.mark.slow
def test_lite_chain_on_real_format_fixtures(lite_run):
    base, env = lite_run
    first = run_all(env, "-p", "glue_tasks", TASKS)
    assert first.returncode == 0, first.stdout + first.stderr
    for stem in ("04_ablations", "05_noise", "06_hardware"):
        assert f"skipped     {stem}: CheXpert not found" in first.stdout
    assert "skipped     03_training [benchmark=chexpert, glue_tasks=" in first.stdout
    assert "skipped     04a_task_scaling_and_shots: its task-scaling family is synthetic" in first.stdout
    assert "4 skipped" in first.stdout.splitlines()[-1]

    figures = base / "figures" / "lite"
    for name in ("fig02_param_scaling", "fig04_head_params", "fig05_glue", "fig07_mustard", "figX3_open_choices", "figX4_claims"):
        assert (figures / f"{name}.png").stat().st_size > 0, name
    assert not list(figures.glob("fig06*")) and not list(figures.glob("fig1[01]*")) and not list(figures.glob("figX1*"))
    fig05 = pd.read_csv(figures / "fig05_glue.csv")
    assert set(fig05.task) == set(TASKS.split(","))
    assert set(fig05.variant) == {"classical", "hqnn4", "hqnnQ", "qmtl", "majority baseline"}  # real data: no ceiling
    executed = (base / "runs" / "lite" / "07_figures.ipynb").read_text()
    assert "Fig. 6 skipped: CheXpert not found" in executed

    table = pd.read_csv(figures / "claims.csv")
    assert set(table.benchmark) == {"glue", "chexpert", "mustard"}
    assert table[table.benchmark == "chexpert"].verdict.str.startswith("not run").all()
    qqp = table[(table.claim == "glue_matches_tasks") & (table.task == "qqp")]
    assert qqp.verdict.iloc[0].startswith("not run: task not in this run")
    ran = table[~table.verdict.str.startswith("not run")]
    assert ran.verdict.isin(["holds", "does not hold", "cannot tell at this size"]).all()
    assert set(ran[ran.benchmark == "glue"].n) == {3} and set(ran[ran.benchmark == "mustard"].n) == {5}
    assert ran.lite_differences.str.contains("MiniLM").all()

    second = run_all(env, "-p", "glue_tasks", TASKS)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 executed, 4 skipped" in second.stdout


@pytest.mark.slow
def test_lite_without_the_glue_data_stops_naming_the_file(tmp_path):
    env = dict(
        os.environ,
        QMTL_CACHE_DIR=str(tmp_path / "cache"),
        QMTL_RUNS_DIR=str(tmp_path / "runs"),
        QMTL_FIGURES_DIR=str(tmp_path / "figures"),
        QMTL_PYTHON=os.environ.get("QMTL_PYTHON") or sys.executable,
        HF_HUB_OFFLINE="1",
        **write_lite_data(tmp_path / "data", n_glue=40, n_mustard=60, tasks=("cola",)),
    )
    failed = run_all(env, "--only", "00")
    assert failed.returncode == 1
    assert "00_data_prep" in failed.stderr and "SST-2/train.tsv is missing" in failed.stderr
    assert not list((tmp_path / "cache" / "lite").glob("data_glue/*/manifest.json"))  # nothing half-written


def test_run_all_fetch_offline_stops_at_once_naming_the_url_and_the_path(tmp_path):
    env = dict(
        os.environ,
        QMTL_DATA_DIR=str(tmp_path / "data"),
        HF_HUB_OFFLINE="1",
        QMTL_PYTHON=os.environ.get("QMTL_PYTHON") or sys.executable,
    )
    for name in ("QMTL_GLUE_DIR", "QMTL_MUSTARD_DIR"):
        env.pop(name, None)
    done = subprocess.run(
        ["bash", str(ROOT / "run_all.sh"), "--fetch", "-p", "glue_tasks", "rte"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stdout + done.stderr
    assert "https://" in message and str(tmp_path / "data") in message
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file() and not p.name.endswith(".json")]
