"""scripts/gpu_check.sh runs every section and writes its JSON (on the CPU, with --quick sizes)."""

import json
import os
import subprocess

import pytest

from qmtl_utils.runtime.paths import repo_root


@pytest.mark.slow
def test_quick_run_on_cpu_writes_every_section(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(repo_root() / "scripts" / "gpu_check.sh"), "--device", "cpu", "--quick"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "gpu_check.json").read_text())
    for section in ("simulator", "densenet121", "bert_base", "noisy", "plan"):
        assert "error" not in result[section], result[section]
    assert [r["batch"] for r in result["simulator"]["fast"]] == [32, 64]
    assert result["simulator"]["pennylane_default_qubit"]["max_abs_diff"] < 1e-4
    assert result["densenet121"]["images_per_s"] > 0 and result["bert_base"]["sentences_per_s"] > 0
    assert result["plan"]["stages"]["03_training"]["units"] == 12 and result["plan"]["total_at_most_h"] > 0


def test_no_cuda_is_a_clear_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible")
    done = subprocess.run(
        ["bash", str(repo_root() / "scripts" / "gpu_check.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "OUT": str(tmp_path)},
        timeout=300,
    )
    assert done.returncode != 0 and "no CUDA device" in done.stderr
