"""``run_all.sh --executor ray`` on a local Ray with 2 CPUs against serial execution, on the smoke
profile's stages that have independent units (03 training runs, 04a task-scaling runs, 05 noise
levels): the same cache entries under the same keys with the same payloads (timings aside), and a
resumed run that recomputes nothing."""

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
    # each Ray task with a fresh kernel's torch thread count: bit-identical float reductions
    threads = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    env = dict(os.environ, QMTL_CACHE_DIR=str(base / "cache"), QMTL_RUNS_DIR=str(base / "runs"),
               QMTL_FIGURES_DIR=str(base / "figures"), RAY_USAGE_STATS_ENABLED="0",
               QMTL_RAY_TASK_THREADS=threads)
    env["QMTL_PYTHON"] = env.get("QMTL_PYTHON") or sys.executable
    return subprocess.run(["bash", str(repo_root() / "run_all.sh"), "--profile", "smoke", "--only", *STAGES, *args],
                          cwd=repo_root(), env=env, capture_output=True, text=True, timeout=2700)


def entries(cache: Path) -> dict[str, Path]:
    return {f"{p.parent.name}/{p.name}": p for p in sorted(cache.glob("*/*")) if p.is_dir()
            and not p.name.startswith(".") and not p.parent.name.startswith("_")}


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
def test_ray_fills_the_serial_cache_entries_and_a_resumed_run_recomputes_nothing(tmp_path):
    serial = run_all(tmp_path / "serial")
    assert serial.returncode == 0, serial.stdout + serial.stderr
    ray = run_all(tmp_path / "ray", "--executor", "ray")
    assert ray.returncode == 0, ray.stdout + ray.stderr
    assert "run_all: executor ray at" in ray.stdout and "2 CPUs" in ray.stdout

    runs = [tmp_path / name / "runs" / "smoke" / "03_training-chexpert.ipynb" for name in ("serial", "ray")]
    assert "[ray] 4 units submitted" in runs[1].read_text() and "[ray]" not in runs[0].read_text()
    a, b = entries(tmp_path / "serial" / "cache" / "smoke"), entries(tmp_path / "ray" / "cache" / "smoke")
    assert sorted(a) == sorted(b)  # the same entries under the same keys
    assert sum(name.startswith(("run_", "scaling_run/", "noise_level/")) for name in a) == 12 + 6 + 3
    for name, folder in a.items():
        files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")
        assert files == sorted(p.relative_to(b[name]) for p in b[name].rglob("*")
                               if p.is_file() and p.name != "manifest.json"), name
        for rel in files:
            assert comparable(folder / rel) == comparable(b[name] / rel), f"{name}/{rel}"

    again = run_all(tmp_path / "ray", "--executor", "ray")
    assert f"{len(STAGES)} up to date, 0 executed" in again.stdout, again.stdout + again.stderr
    forced = run_all(tmp_path / "ray", "--executor", "ray", "--force", "03")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    record = json.loads((tmp_path / "ray" / "cache" / "smoke" / "_pipeline" / "03_training.json").read_text())
    assert record["summary"]["misses"] == 0 and record["summary"]["hits"] >= 12  # every run read back
