"""The speed benchmark runs and compares identical computations (its timings are not asserted)."""

import json
import subprocess
import sys

from qmtl_utils.studies import simulator_speed


def test_benchmark_methods_agree():
    results = simulator_speed.run(batches=(4,), repeats=1, shift_samples=1)
    row = results["batches"]["4"]
    assert row["max_output_diff"] < 1e-5 and row["max_grad_diff"] < 1e-4  # float32 vs PennyLane
    assert results["param_shift"]["max_grad_diff_vs_fast"] < 1e-4
    assert row["fast_samples_per_s"] > 0 and row["speedup_vs_pennylane_backprop"] > 0


def test_benchmark_cli_json_shape():
    out = subprocess.run([sys.executable, "-m", "qmtl_utils.studies.simulator_speed", "--json", "--float64", "--batches", "2",
                          "--repeats", "1", "--shift-samples", "1"], capture_output=True, text=True, check=True).stdout
    results = json.loads(out)
    assert set(results["batches"]["2"]) >= {"fast_samples_per_s", "pennylane_samples_per_s",
                                             "speedup_vs_pennylane_backprop", "max_output_diff", "max_grad_diff"}
    assert results["batches"]["2"]["max_output_diff"] < 1e-10
