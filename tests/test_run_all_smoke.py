"""The whole notebook chain on the `smoke` profile, as `run_all.sh` runs it: figures appear with
their tables, every executed notebook is rendered to HTML and linked from an index, a second run
executes and renders nothing, the figures notebook reads the cache alone, and without a cache it
fails with a clear message."""

import json
import os
import re
import subprocess
import sys
import time

import pandas as pd
import pytest
from notebook_warnings import environment_warnings

from qmtl_utils.runtime.paths import repo_root
from qmtl_utils.runtime.stages import GRAPH

ROOT = repo_root()
STAGES = [s.notebook for s in GRAPH]
EXECUTED = [f"{s.notebook}-{'-'.join(map(str, run.values()))}.ipynb" for s in GRAPH for run in s.runs] + [
    f"{s.notebook}.ipynb" for s in GRAPH if not s.runs
]
# The chain takes ~6 min on 2 idle cores and ~10 min beside two other test jobs (measured 2026-12-04);
# the limit only catches a hung kernel, so it is wide: a loaded machine must not fail a correct chain.
SMOKE_TIMEOUT_S = 2700
FIGURES = (
    "fig02_param_scaling",
    "fig04_head_params",
    "fig05_glue",
    "fig06_chexpert",
    "fig07_mustard",
    "fig08_depth_ablation",
    "fig09_entanglement_ablation",
    "fig10_noise",
    "fig11_hardware",
    "figX1_task_scaling",
    "figX2_shot_budget",
    "figX3_open_choices",
    "figX4_claims",
)


@pytest.fixture(scope="module")
def smoke_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("smoke")
    env = dict(
        os.environ,
        QMTL_CACHE_DIR=str(base / "cache"),
        QMTL_RUNS_DIR=str(base / "runs"),
        QMTL_FIGURES_DIR=str(base / "figures"),
        QMTL_PYTHON=os.environ.get("QMTL_PYTHON", ""),
    )
    env["QMTL_PYTHON"] = env["QMTL_PYTHON"] or sys.executable
    return base, env


def html_pages(base) -> dict[str, int]:
    """``{file name: mtime}`` of the rendered HTML folder."""
    return {p.name: p.stat().st_mtime_ns for p in (base / "runs" / "smoke" / "html").iterdir()}


def run_all(env, *args):
    return subprocess.run(
        ["bash", str(ROOT / "run_all.sh"), "--profile", "smoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
    )


@pytest.mark.slow
def test_smoke_chain_draws_figures_and_then_does_nothing(smoke_dirs):
    base, env = smoke_dirs
    first = run_all(env)
    assert first.returncode == 0, first.stdout + first.stderr
    figures = base / "figures" / "smoke"  # each profile draws into its own folder
    assert (figures / "claims.csv").stat().st_size > 0
    for name in FIGURES:
        for ext in ("png", "pdf", "csv"):
            assert (figures / f"{name}.{ext}").stat().st_size > 0, name
    for name in ("fig05_glue", "fig06_chexpert", "fig07_mustard"):
        tests = pd.read_csv(figures / f"{name}_tests.csv")
        assert set(tests.baseline) == {"classical", "hqnn4", "hqnnQ"}
    fig04 = pd.read_csv(figures / "fig04_head_params.csv")
    assert (fig04.measured == fig04.closed_form).all() and len(fig04) == 12
    fig06 = pd.read_csv(figures / "fig06_chexpert.csv")
    heads = {"classical", "hqnn4", "hqnnQ", "qmtl"}
    assert set(fig06.variant) == heads | {"majority baseline", "ceiling"} and fig06.task.nunique() == 5
    for name in ("fig05_glue", "fig07_mustard", "fig09_entanglement_ablation", "fig10_noise", "fig11_hardware"):
        table = pd.read_csv(figures / f"{name}.csv")
        assert "ci_low" in table and "ci_high" in table, name
    fig08 = pd.read_csv(figures / "fig08_depth_ablation.csv")
    assert set(fig08.configuration) == {
        "L=2, L_h=1",
        "L=3, L_h=1",
        "L=4, L_h=1",
        "L=3, L_h=2",
        "L=3, L_h=3",
        "majority baseline",
        "ceiling",
    }
    fig10 = pd.read_csv(figures / "fig10_noise.csv")
    assert list(dict.fromkeys(fig10.level)) == ["exact", "p=0", "p=0.05", "p=0.2", "difference"]
    fig11 = pd.read_csv(figures / "fig11_hardware.csv")
    assert set(fig11.requested) == {"noiseless simulator", "ibm_fez"}
    executed = sorted(p.name for p in (base / "runs" / "smoke").glob("*.ipynb"))
    assert executed == sorted(EXECUTED)
    # what a reader sees: no executed notebook shows a warning about our environment, only the
    # companion's deliberate messages (tests/notebook_warnings.py)
    noise = {name: environment_warnings(json.loads((base / "runs" / "smoke" / name).read_text())) for name in executed}
    assert not any(noise.values()), {name: lines for name, lines in noise.items() if lines}
    # every executed notebook as an HTML page, linked from the index in stage order
    html = base / "runs" / "smoke" / "html"
    linked = re.findall(r'<a href="([^"]+)"', (html / "index.html").read_text(encoding="utf-8"))
    assert sorted(linked) == sorted(name.replace(".ipynb", ".html") for name in EXECUTED)
    assert [name.split("-")[0].removesuffix(".html") for name in linked] == [
        s.notebook for s in GRAPH for _ in (s.runs or [None])
    ], "the index follows the stage graph"
    for name in linked:
        page = (html / name).read_text(encoding="utf-8")
        assert 'href="index.html"' in page and '<div class="jp-Cell' in page, name
    figures_page = (html / "07_figures.html").read_text(encoding="utf-8")
    assert figures_page.count('src="data:image/png;base64,') >= len(FIGURES), "07_figures shows its figures"
    assert "notebooks to read in" in first.stdout.splitlines()[-1]
    rendered = html_pages(base)

    mtime = (figures / "fig02_param_scaling.png").stat().st_mtime
    start = time.perf_counter()
    second = run_all(env)
    elapsed = time.perf_counter() - start
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{len(STAGES)} up to date, 0 executed" in second.stdout
    assert (figures / "fig02_param_scaling.png").stat().st_mtime == mtime
    assert elapsed < 15, f"a second run should do no work, took {elapsed:.1f}s"
    assert html_pages(base) == rendered, "a second run renders nothing again"

    # the figures notebook alone, forced: it reads the cache and redraws nothing (inputs and drawing
    # code unchanged). Part of this test, not its own: pytest-xdist may run another test of this
    # module on a different worker, with a fresh fixture and no chain behind it.
    forced = run_all(env, "--force", "07")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    executed = (base / "runs" / "smoke" / "07_figures.ipynb").read_text()
    assert "fig02_param_scaling: up to date" in executed
    again = html_pages(base)  # only the re-executed notebook's page is rendered again (and recorded)
    assert {name for name in rendered if again[name] != rendered[name]} == {"07_figures.html", "rendered.json"}


@pytest.mark.slow
def test_figures_notebook_fails_clearly_without_cache(tmp_path):
    env = dict(
        os.environ,
        QMTL_CACHE_DIR=str(tmp_path / "empty-cache"),
        QMTL_RUNS_DIR=str(tmp_path / "runs"),
        QMTL_FIGURES_DIR=str(tmp_path / "figures"),
        QMTL_PYTHON=os.environ.get("QMTL_PYTHON") or sys.executable,
    )
    failed = run_all(env, "--only", "07")
    assert failed.returncode == 1
    assert "07_figures.ipynb" in failed.stderr and "MissingCacheEntry" in failed.stderr
