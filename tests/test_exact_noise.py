"""The exact depolarizing-noise readout in PyTorch (qmtl_utils.quantum.exact_noise, §6.3) against Qiskit Aer."""

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from qmtl_utils.models.factory import qmtl_config
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum import exact_noise as ns
from qmtl_utils.quantum import statevector as sim
from qmtl_utils.quantum.aer_noise import (
    aer_exact_expectation_values,
    aer_expectation_values,
    depolarizing_noise_model,
    merged_qiskit_circuit,
    readout_circuit,
    readout_pass_manager,
)
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.quantum.observables import pauli_matrix
from qmtl_utils.quantum.shots import group_basis, measurement_probabilities, sample_expvals, task_groups
from qmtl_utils.spec import BENCHMARKS

CHEXPERT = qmtl_config(BENCHMARKS["chexpert"])
# mixed task sizes (4, 1, 2 qubits), non-contiguous and unordered wires, Y readouts, one idle qubit (7)
MIXED = QMTLConfig(
    n_qubits=8,
    n_layers=2,
    task_outputs=(3, 1, 2),
    task_wires=((6, 1, 3, 4), (0,), (5, 2)),
    head_layers=2,
    observables=(("XYZI", "YYII", "IIZY"), ("Y",), ("YX", "ZI")),
)
MIXED_FLAT = dataclasses.replace(MIXED, entangle=False)
NOISE = (0.0, 0.01, 0.2)


def _head(config, seed=0):
    torch.manual_seed(seed)
    return QMTLHead(config).double()


def _features(config, n, seed=1, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, config.d, generator=generator, dtype=torch.float64) * 2 * np.pi).to(dtype)


def _ptm(unitary: np.ndarray) -> np.ndarray:
    """Reference PTM ``Tr(P U P' U†) / 2**n`` from dense matrices."""
    n = int(np.log2(unitary.shape[0]))
    words = ["".join(w) for w in itertools.product("IXYZ", repeat=n)]
    mats = [pauli_matrix(w) for w in words]
    return np.array([[np.trace(a @ unitary @ b @ unitary.conj().T).real / 2**n for b in mats] for a in mats])


def test_pauli_transfer_matrices_of_the_gates():
    angle = torch.tensor(0.7, dtype=torch.float64)
    for axis, gate in (("X", sim.rx), ("Y", sim.ry), ("Z", sim.rz)):
        np.testing.assert_allclose(ns.rotation_ptm(axis, angle).numpy(), _ptm(gate(angle).numpy()), atol=1e-14)
    hadamard = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    np.testing.assert_allclose(ns.hadamard_ptm().numpy(), _ptm(hadamard), atol=1e-14)
    cnot = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
    np.testing.assert_array_equal(ns.cnot_ptm(), _ptm(cnot))
    # Qiskit's depolarizing_error(p, n) damps every non-identity Pauli string by (1 - p)
    from qiskit.quantum_info import PTM
    from qiskit_aer.noise import depolarizing_error

    for n in (1, 2):
        expected = np.diag([1.0] + [0.8] * (4**n - 1))
        np.testing.assert_allclose(PTM(depolarizing_error(0.2, n).to_quantumchannel()).data.real, expected, atol=1e-14)
    np.testing.assert_allclose(ns.noisy_cnot_ptm(0.2), np.diag([1.0] + [0.8] * 15) @ ns.cnot_ptm(), atol=1e-15)


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_ladder_mpo_is_the_dense_noisy_ladder(p):
    n = 4
    mpo = [w.numpy() for w in ns.ladder_mpo(n, p)]
    dense = np.ones((1, 1, 1))  # [left bond ... right bond] contracted site by site
    for w in mpo:
        dense = np.einsum("lxy,lroi->rxoyi", dense, w).reshape(w.shape[1], dense.shape[1] * 4, -1)
    dense = dense[0]
    expected = np.eye(4**n)
    for c in range(n - 1):
        gate = np.kron(np.kron(np.eye(4**c), ns.noisy_cnot_ptm(p)), np.eye(4 ** (n - c - 2)))
        expected = gate @ expected
    np.testing.assert_allclose(dense, expected, atol=1e-12)
    assert max(w.shape[1] for w in mpo) == (4 if p == 0 else 5)


@pytest.mark.parametrize(
    "config",
    [
        CHEXPERT,
        qmtl_config(BENCHMARKS["mustard"]),
        qmtl_config(BENCHMARKS["glue"]),
        MIXED,
        MIXED_FLAT,
        QMTLConfig(
            n_qubits=5,
            n_layers=2,
            task_outputs=(3, 1),
            task_wires=((4, 1), (2,)),
            head_layers=3,
            observables=(("XZ", "IY", "ZI"), ("X",)),
        ),
        QMTLConfig(n_qubits=1, n_layers=2, task_outputs=(1,)),
    ],
    ids=["chexpert", "mustard", "glue", "mixed", "mixed-flat", "wires-and-words", "one-qubit"],
)
@pytest.mark.parametrize("granularity", ns.GRANULARITIES)
def test_without_noise_equals_the_fast_simulator(config, granularity):
    head = _head(config)
    z = _features(config, 5)
    expected = head.expectation_values(z).detach()
    got = ns.noisy_expectation_values(head, z, 0.0, granularity)
    assert got.dtype == torch.float64 and got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("granularity", ns.GRANULARITIES)
@pytest.mark.parametrize("config, n", [(CHEXPERT, 1), (MIXED, 3), (MIXED_FLAT, 2)], ids=["chexpert", "mixed", "mixed-flat"])
def test_equals_aer_exact_noisy_expectation_values(config, n, granularity):
    head = _head(config, seed=2)
    z = _features(config, n, seed=3)
    for p in NOISE:
        ours = ns.noisy_expectation_values(head, z, p, granularity).numpy()
        np.testing.assert_allclose(ours, aer_exact_expectation_values(head, z, p, granularity), rtol=0, atol=1e-6)


def test_granularities_differ_under_noise():
    head = _head(MIXED)
    z = _features(MIXED, 4)
    native, merged = (ns.noisy_expectation_values(head, z, 0.2, g) for g in ns.GRANULARITIES)
    assert (native - merged).abs().max() > 1e-3  # merged has fewer channels: larger |<O>|
    assert native.abs().mean() < merged.abs().mean()


@pytest.mark.parametrize("granularity", ns.GRANULARITIES)
def test_register_states_and_outcome_distributions_equal_aer(granularity):
    """Density matrix of every task register after its block, and the outcome distribution of every
    measurement setting after the noisy basis change, against Aer's saved state (p = 0.2)."""
    from qiskit_aer import AerSimulator

    p, head = 0.2, _head(MIXED, seed=4)
    row = _features(MIXED, 1, seed=5)
    base = merged_qiskit_circuit(head, row[0].numpy()) if granularity == "merged" else None
    if base is None:
        from qiskit import transpile

        from qmtl_utils.quantum.aer_noise import NATIVE_GATES
        from qmtl_utils.quantum.qiskit_circuits import qmtl_qiskit_circuit

        base = transpile(qmtl_qiskit_circuit(head), basis_gates=list(NATIVE_GATES), optimization_level=0).assign_parameters(
            row[0].numpy()
        )
    simulator = AerSimulator(method="density_matrix", noise_model=depolarizing_noise_model(p, granularity))
    passes = readout_pass_manager(simulator)
    circuits, keys = [], []
    state = base.copy()
    for t, wires in enumerate(MIXED.task_wires):  # Aer is little-endian: the first wire is the last qubit
        state.save_density_matrix(list(reversed(wires)), label=f"rho{t}")
    circuits.append(state)
    for t, (wires, groups) in enumerate(zip(MIXED.task_wires, task_groups(MIXED))):
        for g, words in enumerate(groups):
            circuit = base.compose(passes.run(readout_circuit(MIXED.n_qubits, group_basis(words), wires)))
            circuit.save_probabilities(list(reversed(wires)), label="probs")
            circuits.append(circuit)
            keys.append((t, g))
    result = simulator.run(circuits, enable_truncation=False).result()  # see aer_exact_expectation_values
    rhos = ns.noisy_task_density_matrices(head, row, p, granularity)
    for t, rho in enumerate(rhos):
        np.testing.assert_allclose(rho[0].numpy(), np.asarray(result.data(0)[f"rho{t}"]), atol=1e-6)
    probabilities = ns.noisy_measurement_probabilities(head, row, p, granularity)
    for i, (t, g) in enumerate(keys):
        np.testing.assert_allclose(probabilities[t][g][0], result.data(i + 1)["probs"], atol=1e-6)


def test_ideal_distributions_and_shots_equal_the_shots_module():
    head = _head(MIXED)
    z = _features(MIXED, 6)
    for ours, reference in zip(ns.noisy_measurement_probabilities(head, z, 0.0), measurement_probabilities(head, z)):
        for a, b in zip(ours, reference):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        ns.noisy_sample_expvals(head, z, 0.0, 500, seed=9).numpy(),
        sample_expvals(head, z, 500, seed=9).numpy(),
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize("config", [CHEXPERT, MIXED, MIXED_FLAT], ids=["chexpert", "mixed", "mixed-flat"])
def test_float32_close_to_float64(config):
    head = _head(config)
    z = _features(config, 16)
    for granularity in ns.GRANULARITIES:
        double = ns.noisy_expectation_values(head, z, 0.05, granularity)
        single = ns.noisy_expectation_values(head, z.float(), 0.05, granularity)
        assert single.dtype == torch.float32
        torch.testing.assert_close(single.double(), double, rtol=0, atol=2e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_equals_cpu():
    head = _head(CHEXPERT)
    z = _features(CHEXPERT, 64)
    for dtype, atol in ((torch.float64, 1e-12), (torch.float32, 2e-6)):
        cpu = ns.noisy_expectation_values(head, z.to(dtype), 0.05)
        gpu = ns.noisy_expectation_values(head, z.to(dtype).cuda(), 0.05)
        assert gpu.is_cuda and gpu.dtype == dtype
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=atol)


@pytest.mark.parametrize(
    "config, granularity, n", [(CHEXPERT, "native", 2), (MIXED, "merged", 4)], ids=["chexpert-native", "mixed-merged"]
)
def test_shots_agree_with_the_aer_shot_path(config, granularity, n):
    head, p, shots = _head(config, seed=6), 0.2, 4096
    z = _features(config, n, seed=7)
    exact = ns.noisy_expectation_values(head, z, p, granularity).numpy()
    ours = ns.noisy_sample_expvals(head, z, p, shots, seed=11, granularity=granularity).numpy()
    aer, info = aer_expectation_values(head, z, p, shots=shots, seed=5, granularity=granularity)
    assert info["granularity"] == granularity and ours.shape == aer.shape == exact.shape
    se = np.sqrt((1 - exact**2) / shots)
    assert np.all(np.abs(ours - exact) <= 5 * se + 1e-12)
    assert np.all(np.abs(aer - exact) <= 5 * se + 1e-12)
    assert np.all(np.abs(ours - aer) <= 5 * np.sqrt(2) * se + 1e-12)


def test_same_seed_same_numbers():
    head = _head(MIXED)
    z = _features(MIXED, 8)
    first = ns.noisy_sample_expvals(head, z, 0.1, 256, seed=3)
    assert first.dtype == torch.float64 and first.shape == (8, sum(MIXED.task_outputs))
    torch.testing.assert_close(ns.noisy_sample_expvals(head, z, 0.1, 256, seed=3), first, rtol=0, atol=0)
    torch.testing.assert_close(ns.noisy_sample_expvals(head, z, 0.1, 256, seed=np.random.default_rng(3)), first, rtol=0, atol=0)
    assert not torch.equal(ns.noisy_sample_expvals(head, z, 0.1, 256, seed=4), first)


def test_readout_gates_are_those_of_backend_estimator_v2():
    """What BackendEstimatorV2 appends (read from its private measurement-circuit builder): X one
    h, Y rz(π/2) ry(π/2) with the native noise model, one u each with the merged one; the
    replication in qmtl_utils.quantum.aer_noise builds the same gates."""
    from qiskit import QuantumCircuit
    from qiskit.primitives import BackendEstimatorV2
    from qiskit.quantum_info import PauliList
    from qiskit_aer import AerSimulator

    expected = {"native": [("h", 2), ("rz", 0), ("ry", 0)], "merged": [("u", 2), ("u", 0)]}
    for granularity in ns.GRANULARITIES:
        simulator = AerSimulator(method="density_matrix", noise_model=depolarizing_noise_model(0.1, granularity))
        estimator = BackendEstimatorV2(backend=simulator)
        (measured,) = estimator._create_measurement_circuits(QuantumCircuit(3), PauliList(["XIY"]), (0,))
        gates = [
            (op.operation.name, measured.find_bit(op.qubits[0]).index) for op in measured.data if op.operation.name != "measure"
        ]
        ours = readout_pass_manager(simulator).run(readout_circuit(3, "YX", [0, 2]))
        assert sorted(gates) == sorted(expected[granularity])
        assert [
            (op.operation.name, ours.find_bit(op.qubits[0]).index, list(map(float, op.operation.params))) for op in ours.data
        ] == [
            (op.operation.name, measured.find_bit(op.qubits[0]).index, list(map(float, op.operation.params)))
            for op in measured.data
            if op.operation.name != "measure"
        ]
        assert {op.operation.name for op in measured.data} - {"measure"} <= set(
            depolarizing_noise_model(0.1, granularity).noise_instructions
        )


def test_invalid_arguments():
    head = _head(MIXED)
    z = _features(MIXED, 2)
    with pytest.raises(ValueError, match="probability"):
        ns.noisy_expectation_values(head, z, 1.5)
    with pytest.raises(ValueError, match="granularity"):
        ns.noisy_expectation_values(head, z, 0.1, "coarse")
    with pytest.raises(ValueError, match="granularity"):
        depolarizing_noise_model(0.1, "coarse")
    with pytest.raises(ValueError, match="shape"):
        ns.noisy_expectation_values(head, z[:, :-1], 0.1)


def test_chunks_of_samples_give_the_same_numbers(monkeypatch):
    head = _head(MIXED)
    z = _features(MIXED, 7)
    whole = ns.noisy_expectation_values(head, z, 0.1)
    monkeypatch.setattr(ns, "CHUNK_ENTRIES", 1)  # one sample per chunk
    torch.testing.assert_close(ns.noisy_expectation_values(head, z, 0.1), whole, rtol=0, atol=1e-15)
