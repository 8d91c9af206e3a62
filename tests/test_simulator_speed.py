"""The speed benchmark runs and compares identical computations (its timings are not asserted)."""

import dataclasses
import json
import subprocess
import sys

import pytest
import torch

from qmtl_utils.models.factory import qmtl_config
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.spec import BENCHMARKS
from qmtl_utils.studies import simulator_speed


def test_benchmark_methods_agree():
    results = simulator_speed.run(batches=(4,), repeats=1, shift_samples=1)
    row = results["batches"]["4"]
    assert row["max_output_diff"] < 1e-5 and row["max_grad_diff"] < 1e-4  # float32 vs PennyLane
    assert results["param_shift"]["max_grad_diff_vs_fast"] < 1e-4
    assert row["fast_samples_per_s"] > 0 and row["speedup_vs_pennylane_backprop"] > 0


@pytest.mark.slow
def test_benchmark_cli_json_shape():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "qmtl_utils.studies.simulator_speed",
            "--json",
            "--float64",
            "--head",
            "chexpert",
            "--batches",
            "2",
            "--repeats",
            "1",
            "--shift-samples",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    results = json.loads(out)["chexpert"]
    assert set(results["batches"]["2"]) >= {
        "fast_samples_per_s",
        "pennylane_samples_per_s",
        "tensorcircuit_samples_per_s",
        "speedup_vs_pennylane_backprop",
        "max_output_diff",
        "max_grad_diff",
    }
    assert results["batches"]["2"]["max_output_diff"] < 1e-10
    assert results["torch_threads"] == 1  # --threads defaults to one, as every training unit


def test_mustard_head_is_the_training_head():
    head = simulator_speed.make_benchmark_head("mustard")
    assert head.config == qmtl_config(BENCHMARKS["mustard"])
    assert (head.config.n_qubits, head.config.n_layers) == (13, 3)
    assert head.config.task_qubits == (1, 2, 2, 4, 4) and head.config.task_outputs == (1, 3, 3, 9, 9)
    with pytest.raises(ValueError, match="unknown head"):
        simulator_speed.make_benchmark_head("glue")


def test_cli_defaults():
    args = simulator_speed.build_parser().parse_args([])
    assert (args.head, args.batches, args.threads, args.no_tensorcircuit) == ("both", [16, 32, 256], 1, False)


@pytest.mark.slow
def test_cli_both_heads_and_threads():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "qmtl_utils.studies.simulator_speed",
            "--head",
            "both",
            "--batches",
            "2",
            "--repeats",
            "1",
            "--shift-samples",
            "0",
            "--threads",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "chexpert QMTL head: Q=10" in out and "mustard QMTL head: Q=13" in out, out
    assert out.count("2 torch threads") == 2 and "parameter shift" not in out
    assert "tensorcircuit" in out and "PennyLane bp" in out


def test_mustard_methods_agree_in_float64():
    results = simulator_speed.run(batches=(3,), repeats=1, shift_samples=0, dtype=torch.float64, head="mustard")
    row = results["batches"]["3"]
    assert row["max_output_diff"] < 1e-10 and row["max_grad_diff"] < 1e-9
    assert results["param_shift"] is None
    if simulator_speed.tensorcircuit_version():
        assert row["tensorcircuit_max_output_diff"] < 1e-10 and row["tensorcircuit_max_grad_diff"] < 1e-9


def test_without_tensorcircuit_the_table_says_not_installed(monkeypatch, capsys):
    monkeypatch.setattr(simulator_speed, "tensorcircuit_version", lambda: None)
    results = simulator_speed.run(batches=(2,), repeats=1, shift_samples=0)
    assert results["tensorcircuit"] == "not installed"
    assert results["batches"]["2"]["tensorcircuit_samples_per_s"] is None
    simulator_speed.print_table(results)
    table = capsys.readouterr().out
    assert "not installed" in table and "ours samples/s" in table


def test_a_method_that_disagrees_reports_no_speed():
    out = torch.zeros(2, 3)
    grads = [torch.ones(4), torch.full((2, 3), 10.0)]
    agree = simulator_speed._check_agreement("x", (out, grads), (out + 1e-6, [g + 1e-5 for g in grads]), torch.float32)
    assert agree == pytest.approx((1e-6, 1e-5), rel=1e-2)
    with pytest.raises(simulator_speed.MethodMismatch, match="wrong disagrees"):
        simulator_speed._check_agreement("wrong", (out, grads), (out + 0.1, grads), torch.float32)
    with pytest.raises(simulator_speed.MethodMismatch):  # gradients off by more than rounding
        simulator_speed._check_agreement("wrong", (out, grads), (out, [grads[0], grads[1] * 1.01]), torch.float32)
    with pytest.raises(simulator_speed.MethodMismatch):  # NaN never passes
        simulator_speed._check_agreement("wrong", (out, grads), (out * float("nan"), grads), torch.float32)


# tiny heads covering every gate-order choice: a 3-qubit block with L_h=2 (StronglyEntanglingLayers'
# ranges 1 then 2), a 1-qubit block (no CNOT), X/Y words, the ablation without the ladder, the
# "written" reading of Eq. (3) and the bounded angle map
TINY = {
    "literal": QMTLConfig(
        n_qubits=5,
        n_layers=2,
        task_outputs=(1, 3, 2),
        task_qubits=(1, 3, 1),
        head_layers=2,
        observables=(("Z",), ("ZII", "XYI", "IZX"), ("X", "Y")),
    ),
    "no_ladder_written_tanh": QMTLConfig(
        n_qubits=4,
        n_layers=2,
        task_outputs=(3, 1),
        task_qubits=(2, 2),
        head_layers=2,
        entangle=False,
        encoding_order="written",
        angle_map="pi_tanh",
    ),
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_tensorcircuit_circuit_agrees_with_ours_and_pennylane(name):
    if not simulator_speed.tensorcircuit_version():
        pytest.skip("tensorcircuit-ng is not installed (the `bench` extra of pyproject.toml)")
    torch.manual_seed(1)
    head = QMTLHead(TINY[name]).double()
    z = torch.randn(3, head.config.d, dtype=torch.float64)
    circuit = simulator_speed.tensorcircuit_circuit(head.config, torch.float64)
    ours = simulator_speed._step(head.expectation_values, head, z)
    theirs = simulator_speed._step(lambda x: circuit(x, head.encoder_weights, *head.task_weights), head, z)
    qnode = head.qnode()
    reference = torch.stack([torch.stack(list(qnode(z[i], head.encoder_weights, *head.task_weights))) for i in range(3)])
    assert torch.allclose(theirs[0], reference, atol=1e-10)
    assert torch.allclose(theirs[0], ours[0], atol=1e-10)
    for a, b in zip(theirs[1], ours[1]):
        assert torch.allclose(a, b, atol=1e-9)
    # a circuit with one change (the encoder's CNOT ladder toggled) is caught
    wrong = simulator_speed.tensorcircuit_circuit(
        dataclasses.replace(head.config, entangle=not head.config.entangle), torch.float64
    )
    with pytest.raises(simulator_speed.MethodMismatch):
        simulator_speed._check_agreement(
            "wrong",
            ours,
            simulator_speed._step(lambda x: wrong(x, head.encoder_weights, *head.task_weights), head, z),
            torch.float64,
        )


def test_pennylane_in_chunks_computes_the_same_sums(capsys):
    assert (simulator_speed.pennylane_chunk(10), simulator_speed.pennylane_chunk(13)) == (512, 64)
    head = simulator_speed.make_benchmark_head("chexpert").double()
    z = torch.randn(5, head.config.d, dtype=torch.float64)
    whole, chunked = (
        simulator_speed._step(head.expectation_values, head, z),
        simulator_speed._step(head.expectation_values, head, z, 2),
    )
    assert torch.allclose(whole[0], chunked[0], atol=1e-12)
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(whole[1], chunked[1]))
    # a chunked PennyLane row still passes the agreement check (run raises otherwise) and is marked
    results = simulator_speed.run(batches=(2, 3), repeats=1, shift_samples=0, tensorcircuit=False, pennylane_max_batch=2)
    assert results["batches"]["2"]["pennylane_chunk"] is None and results["batches"]["3"]["pennylane_chunk"] == 2
    simulator_speed.print_table(results)
    table = capsys.readouterr().out
    assert "* PennyLane in chunks of 2 samples" in table and table.count("* ") == 2, table
