"""The Qiskit circuit of the QMTL head and the depolarizing-noise Aer path (§6.3)."""

import numpy as np
import pytest
import torch

from qmtl_utils.models.factory import qmtl_config
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum.aer_noise import (
    aer_expectation_values,
    depolarizing_noise_model,
    pennylane_aer_expectation_values,
    shots_precision,
)
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.quantum.qiskit_circuits import pauli_op, statevector_expectation_values
from qmtl_utils.spec import BENCHMARKS


def _head(config, seed=0):
    torch.manual_seed(seed)
    return QMTLHead(config).double()


def _features(head, n, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, head.config.d, generator=generator, dtype=torch.float64) * 2 * np.pi


@pytest.fixture(scope="module")
def chexpert():
    head = _head(qmtl_config(BENCHMARKS["chexpert"]))
    z = _features(head, 8)
    return head, z, head.expectation_values(z).detach().numpy()


@pytest.fixture(scope="module")
def noisy(chexpert):
    head, z, _ = chexpert
    return aer_expectation_values(head, z[:4], p=0.2, shots=4096, seed=7)


@pytest.mark.parametrize(
    "config",
    [
        qmtl_config(BENCHMARKS["chexpert"]),
        qmtl_config(BENCHMARKS["mustard"]),
        qmtl_config(BENCHMARKS["chexpert"], entangle=False),
        QMTLConfig(
            n_qubits=5,
            n_layers=2,
            task_outputs=(3, 1),
            task_wires=((4, 1), (2,)),
            head_layers=3,
            observables=(("XZ", "IY", "ZI"), ("X",)),
        ),
        qmtl_config(BENCHMARKS["chexpert"], encoding_order="written"),
    ],
    ids=["chexpert", "mustard", "no-entangle", "wires-and-words", "written-order"],
)
def test_qiskit_statevector_matches_fast_simulator(config):
    head = _head(config)
    z = _features(head, 3)
    expected = head.expectation_values(z).detach().numpy()
    np.testing.assert_allclose(statevector_expectation_values(head, z), expected, rtol=0, atol=1e-8)


def test_pauli_op_is_little_endian():
    assert pauli_op("XZ", (4, 1), 5).paulis[0].to_label() == "XIIZI"


def test_ideal_shots_agree_within_five_standard_errors(chexpert):
    head, z, exact = chexpert
    shots = 20000
    values, info = aer_expectation_values(head, z, p=0.0, shots=shots, seed=3)
    assert values.shape == exact.shape and info["shots"] == shots and info["measurement_settings"] == 2
    standard_error = np.sqrt((1 - exact**2) / shots)
    assert np.all(np.abs(values - exact) <= 5 * standard_error + 1e-12)


def test_depolarizing_noise_changes_and_shrinks_expectations(chexpert, noisy):
    _, _, exact = chexpert
    values, info = noisy
    exact = exact[:4]
    z_scores = (values - exact) / np.sqrt(1 / info["shots"])
    assert np.sum(z_scores**2) > 10 * z_scores.size  # far beyond shot noise (chi² ≈ size)
    assert np.mean(np.abs(values)) < 0.5 * np.mean(np.abs(exact))


@pytest.mark.slow
def test_same_seed_same_numbers(chexpert, noisy):
    head, z, _ = chexpert
    again, _ = aer_expectation_values(head, z[:4], p=0.2, shots=4096, seed=7)
    np.testing.assert_array_equal(again, noisy[0])


@pytest.mark.slow
def test_pennylane_qiskit_aer_agrees_within_shot_noise(chexpert):
    head, z, _ = chexpert
    shots = 4000
    ours, _ = aer_expectation_values(head, z[:2], p=0.02, shots=shots, seed=5)
    reference = pennylane_aer_expectation_values(head, z[:2], p=0.02, shots=shots, seed=11)
    assert np.all(np.abs(ours - reference) <= 5 * np.sqrt(2 / shots))


def test_noise_model_and_precision():
    assert depolarizing_noise_model(0.0) is None
    model = depolarizing_noise_model(0.05)
    assert {"h", "rx", "ry", "rz", "cx"} <= set(model.noise_instructions)
    with pytest.raises(ValueError):
        depolarizing_noise_model(1.5)
    for shots in (1024, 4000, 20000, 12345):
        assert int(np.ceil(1 / shots_precision(shots) ** 2)) == shots


def test_noisy_paths_refuse_the_open_choice_variants():
    """The noisy and hardware paths simulate the literal reading only, and say so."""
    from qmtl_utils.quantum.aer_noise import merged_qiskit_circuit
    from qmtl_utils.quantum.exact_noise import noisy_expectation_values
    from qmtl_utils.quantum.qiskit_circuits import qmtl_qiskit_circuit

    written = _head(qmtl_config(BENCHMARKS["chexpert"], encoding_order="written"))
    bounded = _head(qmtl_config(BENCHMARKS["chexpert"], angle_map="pi_tanh"))
    z = _features(written, 2)
    with pytest.raises(NotImplementedError, match="noisy density-matrix path"):
        noisy_expectation_values(written, z, p=0.01)
    with pytest.raises(NotImplementedError, match="merged-gate"):
        merged_qiskit_circuit(written, z[0])
    with pytest.raises(NotImplementedError, match="angle_map"):
        qmtl_qiskit_circuit(bounded)
    written.backend = "mps"
    with pytest.raises(NotImplementedError, match="MPS backend"):
        written.expectation_values(z)
