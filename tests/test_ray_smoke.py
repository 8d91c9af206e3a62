"""The three executors of ``run_all.sh`` on the smoke profile's stages that have independent units
(03 training runs, 04a task-scaling runs, 05 noise levels): serial, local (the default: a pool of
processes, here 2) and Ray (a local Ray with 2 CPUs) give the same cache entries under the same
keys with byte-identical payloads (measured seconds aside), with no setting beyond the executor:
every unit runs with the same torch thread count. A resumed run recomputes nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from qmtl_utils.runtime.paths import repo_root

pytest.importorskip("ray")

STAGES = ["00_data_prep", "03_training", "04a_task_scaling_and_shots", "05_noise"]
TIMING = ("wall_s", "epoch_s", "train_s", "exact_samples_per_s")  # measured seconds: the only allowed differences


def run_all(base: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        QMTL_CACHE_DIR=str(base / "cache"),
        QMTL_RUNS_DIR=str(base / "runs"),
        QMTL_FIGURES_DIR=str(base / "figures"),
        RAY_USAGE_STATS_ENABLED="0",
        QMTL_WORKERS="2",
    )
    env.pop("QMTL_UNIT_THREADS", None)
    env["QMTL_PYTHON"] = env.get("QMTL_PYTHON") or sys.executable
    return subprocess.run(
        ["bash", str(repo_root() / "run_all.sh"), "--profile", "smoke", "--only", *STAGES, *args],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=2700,
    )


def entries(cache: Path) -> dict[str, Path]:
    return {
        f"{p.parent.name}/{p.name}": p
        for p in sorted(cache.glob("*/*"))
        if p.is_dir() and not p.name.startswith(".") and not p.parent.name.startswith("_")
    }


def comparable(path: Path):
    """A payload file's content, without the measured timings."""
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        return {k: v for k, v in data.items() if k not in TIMING} if isinstance(data, dict) else data
    if path.suffix == ".csv":
        frame = pd.read_csv(path)
        return frame.drop(columns=[c for c in TIMING if c in frame]).to_csv(index=False)
    return path.read_bytes()


@pytest.mark.slow
def test_every_executor_fills_the_same_cache_entries_and_a_resumed_run_recomputes_nothing(tmp_path):
    done = {name: run_all(tmp_path / name, "--executor", name) for name in ("serial", "local", "ray")}
    for name, result in done.items():
        assert result.returncode == 0, name + result.stdout + result.stderr
    assert "run_all: executor ray at" in done["ray"].stdout and "2 CPUs" in done["ray"].stdout

    runs = {name: (tmp_path / name / "runs" / "smoke" / "03_training-chexpert.ipynb").read_text() for name in done}
    assert "[ray] 4 units submitted" in runs["ray"] and "[local] 4 units on 2 processes" in runs["local"]
    assert "[serial] 4/4" in runs["serial"]
    a = entries(tmp_path / "serial" / "cache" / "smoke")
    assert sum(name.startswith(("run_", "scaling_run/", "noise_level/")) for name in a) == 12 + 6 + 3
    for other in ("local", "ray"):
        b = entries(tmp_path / other / "cache" / "smoke")
        assert sorted(a) == sorted(b), other  # the same entries under the same keys
        for name, folder in a.items():
            files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")
            assert files == sorted(
                p.relative_to(b[name]) for p in b[name].rglob("*") if p.is_file() and p.name != "manifest.json"
            ), (other, name)
            for rel in files:
                assert comparable(folder / rel) == comparable(b[name] / rel), f"{other}: {name}/{rel}"

    again = run_all(tmp_path / "ray", "--executor", "ray")
    assert f"{len(STAGES)} up to date, 0 executed" in again.stdout, again.stdout + again.stderr
    forced = run_all(tmp_path / "local", "--force", "03")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    record = json.loads((tmp_path / "local" / "cache" / "smoke" / "_pipeline" / "03_training.json").read_text())
    assert record["summary"]["misses"] == 0 and record["summary"]["hits"] >= 12  # every run read back
