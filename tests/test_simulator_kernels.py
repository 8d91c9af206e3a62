"""The simulator's building blocks against dense linear algebra and numerical differentiation."""

import numpy as np
import pytest
import torch

from qmtl_utils.quantum import statevector as sim

CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)


def dense_cnot(n_qubits, control, target):
    """CNOT(control, target) on n qubits as a dense matrix (wire 0 most significant)."""
    dim = 2**n_qubits
    matrix = np.zeros((dim, dim), dtype=complex)
    for index in range(dim):
        bits = [(index >> (n_qubits - 1 - w)) & 1 for w in range(n_qubits)]
        bits[target] ^= bits[control]
        matrix[int("".join(map(str, bits)), 2), index] = 1
    return matrix


@pytest.mark.parametrize("pairs", [[(0, 1)], [(1, 0)], [(0, 1), (1, 2), (2, 3)], [(3, 0), (1, 2), (0, 2)]])
def test_cnot_permutation_equals_dense_product(pairs):
    n = 4
    dense = np.eye(2**n, dtype=complex)
    for control, target in pairs:
        dense = dense_cnot(n, control, target) @ dense
    state = torch.randn(3, 2**n, dtype=torch.complex128)
    expected = state.numpy() @ dense.T
    assert np.allclose(sim.permute_basis(state, sim.cnot_permutation(n, pairs)).numpy(), expected)
    assert np.allclose(dense_cnot(2, 0, 1), CNOT)


def test_fused_encoder_step_matches_dense_and_gradcheck():
    torch.manual_seed(0)
    rows, cols, batch = 4, 8, 3
    args = [
        torch.randn(batch, rows * cols, dtype=torch.complex128, requires_grad=True),
        torch.randn(batch, rows * cols, dtype=torch.complex128, requires_grad=True),
        torch.randn(rows, rows, dtype=torch.complex128, requires_grad=True),
        torch.randn(cols, cols, dtype=torch.complex128, requires_grad=True),
    ]
    perm = torch.randperm(rows * cols)
    perm_t = sim.transposed_permutation(perm, rows, cols)
    out = sim.phase_rotate_permute(*args, perm_t)
    dense = torch.kron(args[2], args[3])
    expected = ((args[0] * args[1]) @ dense.T)[:, perm]
    assert torch.allclose(out, expected)
    assert torch.autograd.gradcheck(lambda *x: sim.phase_rotate_permute(*x, perm_t), args)


@pytest.mark.parametrize("groups", [[2, 1, 2], [1, 1, 1, 1], [3, 2]])
def test_phase_rotate_permute_chunks_is_the_dense_product_and_differentiates(groups):
    torch.manual_seed(0)
    n = sum(groups)
    args = [torch.randn(2, 2**n, dtype=torch.complex128, requires_grad=True) for _ in range(2)]
    gates = [torch.randn(2**s, 2**s, dtype=torch.complex128, requires_grad=True) for s in groups]
    perm = torch.randperm(2**n)
    dense = gates[0]
    for gate in gates[1:]:
        dense = torch.kron(dense, gate)
    expected = ((args[0] * args[1]) @ dense.T)[:, perm]
    assert torch.allclose(sim.phase_rotate_permute_chunks(*args, gates, perm), expected)
    assert torch.autograd.gradcheck(lambda a, b, *g: sim.phase_rotate_permute_chunks(a, b, list(g), perm), (*args, *gates))


@pytest.mark.parametrize("n_qubits", [12, 13])
def test_chunked_encoder_equals_the_two_halves(n_qubits, monkeypatch):
    """From Q = 12 the encoder uses groups of about four wires; the two-halves kernel is the reference."""
    from qmtl_utils.quantum.config import QMTLConfig

    assert len(sim.wire_groups(n_qubits)) == 3 and sum(sim.wire_groups(n_qubits)) == n_qubits
    config = QMTLConfig(
        n_qubits=n_qubits, n_layers=3, task_outputs=(1, 3), task_kinds=("binary", "multiclass"), task_qubits=(2, 2)
    )
    torch.manual_seed(0)
    z = torch.randn(3, config.d, dtype=torch.float64)
    angles = 2 * torch.pi * torch.rand(3, n_qubits, dtype=torch.float64)
    weights = [angles.clone().requires_grad_(True) for _ in range(2)]
    states = []
    for chunked_from in (12, 99):
        monkeypatch.setattr(sim, "CHUNKED_FROM_QUBITS", chunked_from)
        state = sim.qmtl_encoder_state(z, weights[len(states)], config)
        (state.real * torch.arange(2**n_qubits)).sum().backward()
        states.append(state.detach())
    assert torch.allclose(states[0], states[1])
    assert torch.allclose(weights[0].grad, weights[1].grad)


@pytest.mark.parametrize("wires", [[0, 1], [2, 3], [3, 4], [4], [3], [1, 2], [0, 1, 2, 3, 4], [3, 0], [1, 4, 2]])
def test_reduced_density_matrix_paths(wires):
    torch.manual_seed(1)
    n = 5
    state = torch.randn(2, 2**n, dtype=torch.complex128)
    state = state / state.norm(dim=1, keepdim=True)
    others = [w for w in range(n) if w not in wires]
    psi = state.reshape(2, *[2] * n).permute(0, *[1 + w for w in wires + others]).reshape(2, 2 ** len(wires), -1)
    expected = torch.einsum("bir,bjr->bij", psi, psi.conj())
    rho = sim.reduced_density_matrix(state, wires, n)
    assert torch.allclose(rho, expected)
    assert torch.allclose(rho.diagonal(dim1=1, dim2=2).sum(-1).real, torch.ones(2, dtype=torch.float64))
    leaf = state.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: sim.reduced_density_matrix(s, wires, n), (leaf,))


def test_z_phases_are_the_rz_diagonal():
    angles = torch.randn(2, 3, dtype=torch.float64)
    for b in range(2):
        dense = torch.eye(1, dtype=torch.complex128)
        for a in angles[b]:
            dense = torch.kron(dense, sim.rz(a))
        assert torch.allclose(sim.z_phases(angles)[b], dense.diagonal())
