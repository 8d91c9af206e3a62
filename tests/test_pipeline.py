"""The notebook runner: execution with papermill, resume, --force, failures, parameter checks.

Each papermill execution starts a kernel (seconds), so the whole file runs about ten notebooks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from qmtl_utils.runtime import pipeline

KERNEL_META = {
    "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
    "language_info": {"name": "python"},
}

LOG_CELL = """\
import os, pathlib
with open(os.environ["QMTL_TEST_LOG"], "a") as fh:
    fh.write(" ".join([STEM, profile, str(globals().get("benchmark")), os.environ["QMTL_PROFILE"],
                       str("inline" in os.environ.get("MPLBACKEND", "inline")), os.environ["PYTHONHASHSEED"],
                       pathlib.Path.cwd().name]) + "\\n")
"""


def write_notebook(
    folder: Path, stem: str, *cells: str, params: str = 'profile = "demo"', runs: list[dict] | None = None, tagged: bool = True
) -> Path:
    """A notebook: a parameters cell, ``STEM = <stem>``, then ``cells``."""
    first = nbformat.v4.new_code_cell(params)
    if tagged:
        first.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(metadata=dict(KERNEL_META))
    nb.cells = [first, nbformat.v4.new_code_cell(f"STEM = {stem!r}"), *(nbformat.v4.new_code_cell(c) for c in cells)]
    if runs is not None:
        nb.metadata["qmtl"] = {"runs": runs}
    path = folder / f"{stem}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Notebooks dir, log file and cache/runs/figures dirs under tmp_path."""
    for name in ("CACHE", "RUNS", "FIGURES"):
        monkeypatch.setenv(f"QMTL_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.setenv("QMTL_TEST_LOG", str(tmp_path / "log.txt"))
    (tmp_path / "nbs").mkdir()
    return tmp_path


def run_pipeline(env: Path, *args: str, check_light: bool = False) -> subprocess.CompletedProcess:
    """``python -m qmtl_utils.runtime.pipeline --notebooks-dir <env>/nbs ARGS`` (optionally asserting
    that papermill/nbformat/nbconvert were never imported)."""
    argv = ["--notebooks-dir", str(env / "nbs"), *args]
    if check_light:
        code = (
            "import sys; from qmtl_utils.runtime.pipeline import main; rc = main(sys.argv[1:]); "
            "heavy = {'papermill', 'nbformat', 'nbconvert', 'torch'} & set(sys.modules); "
            "assert not heavy, heavy; sys.exit(rc)"
        )
        cmd = [sys.executable, "-c", code, *argv]
    else:
        cmd = [sys.executable, "-m", "qmtl_utils.runtime.pipeline", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def log_lines(env: Path) -> list[str]:
    path = env / "log.txt"
    return path.read_text().splitlines() if path.exists() else []


def executed(env: Path, before: int) -> list[str]:
    """``stem[/benchmark]`` of the notebooks executed since the log had ``before`` lines."""
    out = []
    for line in log_lines(env)[before:]:
        stem, _, bench = line.split()[:3]
        out.append(stem if bench == "None" else f"{stem}/{bench}")
    return out


@pytest.mark.slow
def test_run_resume_edit_and_force(env):
    nbs = env / "nbs"
    write_notebook(nbs, "00_prep", LOG_CELL)
    write_notebook(nbs, "01_heads", LOG_CELL)
    write_notebook(
        nbs,
        "02a_scaling",
        LOG_CELL,
        params='profile = "demo"\nbenchmark = "none"',
        runs=[{"benchmark": "glue"}, {"benchmark": "chexpert"}],
    )
    (nbs / "scratch.ipynb").write_text("not a stage")  # not NN_slug: ignored

    # 1. first run executes everything, one copy per qmtl.runs entry
    first = run_pipeline(env, "--profile", "smoke")
    assert first.returncode == 0, first.stderr
    assert executed(env, 0) == ["00_prep", "01_heads", "02a_scaling/glue", "02a_scaling/chexpert"]
    for line in log_lines(env):  # profile parameter, then the kernel's environment and cwd
        fields = line.split()
        assert fields[1] == "smoke" and fields[3:] == ["smoke", "True", "0", "nbs"], line
    assert {p.name for p in (env / "runs" / "smoke").iterdir()} == {
        "00_prep.ipynb",
        "01_heads.ipynb",
        "02a_scaling-glue.ipynb",
        "02a_scaling-chexpert.ipynb",
        "html",
    }
    html = env / "runs" / "smoke" / "html"  # each executed copy rendered, linked from the index in order
    index = (html / "index.html").read_text()
    assert re.findall(r'<a href="([^"]+)"', index) == [
        "00_prep.html",
        "01_heads.html",
        "02a_scaling-glue.html",
        "02a_scaling-chexpert.html",
    ]
    assert all((html / name).stat().st_size > 0 for name in re.findall(r'<a href="([^"]+)"', index))
    assert "notebooks to read in" in first.stdout.splitlines()[-1] and "html/index.html" in first.stdout
    pages = {p.name: p.stat().st_mtime_ns for p in html.iterdir()}
    assert "[2/3] 01_heads (profile smoke) ... done in" in first.stdout
    assert "[3/3] 02a_scaling [benchmark=glue] (profile smoke) ... done in" in first.stdout
    assert "run_all: 3 stages, 0 up to date, 3 executed in" in first.stdout
    record = json.loads((env / "cache" / "smoke" / "_pipeline" / "01_heads.json").read_text())
    assert record["status"] == "ok" and record["wall_s"] > 0

    # 2. nothing changed: nothing executes and nothing heavy is imported
    second = run_pipeline(env, "--profile", "smoke", check_light=True)
    assert second.returncode == 0, second.stderr
    assert executed(env, 4) == []
    assert [l for l in second.stdout.splitlines() if "up to date  " in l] == [
        "  up to date  00_prep",
        "  up to date  01_heads",
        "  up to date  02a_scaling",
    ]
    assert "3 stages, 3 up to date, 0 executed" in second.stdout
    assert {p.name: p.stat().st_mtime_ns for p in html.iterdir()} == pages  # nothing rendered again

    # 3. outputs/metadata do not count; a source edit re-runs that stage and the later ones
    nb = nbformat.read(nbs / "00_prep.ipynb", as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hi")]
    nb.cells[1].execution_count = 9
    nbformat.write(nb, nbs / "00_prep.ipynb")
    write_notebook(nbs, "01_heads", "# edited", LOG_CELL)
    third = run_pipeline(env, "--profile", "smoke")
    assert third.returncode == 0, third.stderr
    assert executed(env, 4) == ["01_heads", "02a_scaling/glue", "02a_scaling/chexpert"]
    assert "  up to date  00_prep" in third.stdout

    # 4. --force re-runs only the named stage
    forced = run_pipeline(env, "--profile", "smoke", "--force", "00")
    assert forced.returncode == 0, forced.stderr
    assert executed(env, 7) == ["00_prep"]

    listing = run_pipeline(env, "--profile", "smoke", "--list", check_light=True)
    assert "up to date" in listing.stdout and "02a_scaling-glue.ipynb" in listing.stdout
    assert "never run" in run_pipeline(env, "--list").stdout  # the demo profile is separate


@pytest.mark.slow
def test_failing_notebook_stops_the_run(env):
    nbs = env / "nbs"
    write_notebook(nbs, "00_fail", 'raise ValueError("boom")', LOG_CELL)
    write_notebook(nbs, "01_after", LOG_CELL)

    result = run_pipeline(env)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    failed = next(l for l in lines if l.startswith("run_all: FAILED"))
    # cell 2 of the source notebook = In [4] of the executed copy (after the injected cell)
    assert failed.endswith("00_fail.ipynb at cell 2 (execution count 4): ValueError: boom"), failed
    assert any("executed copy with the full traceback" in l and l.endswith("00_fail.ipynb") for l in lines)
    assert "fix it and re-run" in result.stderr
    assert executed(env, 0) == []  # neither its later cells nor later stages ran
    assert (env / "runs" / "demo" / "00_fail.ipynb").exists()
    assert not (env / "runs" / "demo" / "01_after.ipynb").exists()
    record = json.loads((env / "cache" / "demo" / "_pipeline" / "00_fail.json").read_text())
    assert record["status"] == "failed"
    listing = run_pipeline(env, "--list", check_light=True).stdout
    assert "failed" in listing and "never run" in listing


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(params='profle = "demo"'), "does not declare profile (it declares: profle)"),
        (dict(tagged=False), "has no cell tagged `parameters`"),
        (dict(runs=[{"benchmark": "glue"}]), "does not declare benchmark"),
    ],
)
def test_undeclared_parameters_fail_before_running_anything(env, kwargs, message):
    write_notebook(env / "nbs", "00_ok", LOG_CELL)
    write_notebook(env / "nbs", "01_bad", LOG_CELL, **kwargs)
    result = run_pipeline(env)
    assert result.returncode == 1
    assert "01_bad.ipynb" in result.stderr and message in result.stderr
    assert executed(env, 0) == []


def test_usage_errors(env):
    missing = run_pipeline(env, "--notebooks-dir", str(env / "nope"))
    assert missing.returncode == 1 and "no notebooks directory at" in missing.stderr
    write_notebook(env / "nbs", "00_ok", LOG_CELL)
    unknown = run_pipeline(env, "--force", "05")
    assert unknown.returncode == 2 and "no stage matches '05'" in unknown.stderr


def _stages(tmp_path: Path) -> list[pipeline.Stage]:
    for stem in ("00_data", "02_heads", "04a_scaling", "04b_noise", "07_figures"):
        write_notebook(tmp_path, stem)
    return pipeline.load_stages(tmp_path, "demo")


def test_stage_selection(tmp_path):
    stages = _stages(tmp_path)
    stems = [s.stem for s in stages]
    assert [s.stem for s in pipeline.match_stages(stages, "04a")] == ["04a_scaling"]
    assert [s.stem for s in pipeline.match_stages(stages, "07_figures")] == ["07_figures"]
    assert [s.stem for s in pipeline.match_stages(stages, "04b_n")] == ["04b_noise"]  # a unique prefix
    for ambiguous in ("04", "0"):  # a prefix of several stages is refused, naming them
        with pytest.raises(ValueError, match="matches .* stages .*04a_scaling, 04b_noise"):
            pipeline.match_stages(stages, ambiguous)
    with pytest.raises(ValueError, match="no stage matches '9'"):
        pipeline.match_stages(stages, "9")

    selected, forced = pipeline.select(stages, [], [], "04a")
    assert [s.stem for s in selected] == stems and forced == set(stems[2:])
    selected, forced = pipeline.select(stages, ["02", "07"], ["07"], None)
    assert [s.stem for s in selected] == ["02_heads", "07_figures"] and forced == {"07_figures"}
    with pytest.raises(ValueError, match="not among the --only"):
        pipeline.select(stages, ["02"], ["07"], None)


def test_stamps_chain_through_earlier_stages(tmp_path):
    before = {s.stem: s.stamp for s in _stages(tmp_path)}
    write_notebook(tmp_path, "04a_scaling", "x = 1")
    after = {s.stem: s.stamp for s in pipeline.load_stages(tmp_path, "demo")}
    changed = sorted(stem for stem in before if before[stem] != after[stem])
    assert changed == ["04a_scaling", "04b_noise", "07_figures"]
    smoke = {s.stem: s.stamp for s in pipeline.load_stages(tmp_path, "smoke")}
    assert all(smoke[stem] != after[stem] for stem in after)  # profile settings are stamped
