"""A fast, exact, batched state-vector simulator in PyTorch for the heads' circuits.

PennyLane's ``default.qubit`` is the readable reference (:mod:`qmtl_utils.quantum.pennylane_circuits`); this module
computes the same expectation values with a few dense tensor operations so that training is
fast and differentiable by ordinary autograd (exact gradients, the quantity parameter shift
estimates). It runs wherever torch runs (CPU or CUDA) in complex64 (float32 inputs) or
complex128 (float64 inputs).

Conventions (identical to PennyLane):

* a state of ``Q`` qubits is a tensor of shape ``(batch, 2**Q)``; wire 0 is the most
  significant bit of the basis index;
* ``RX(a) = exp(-i a X / 2)`` and likewise for ``RY``, ``RZ``; ``Rot(phi, theta, omega) =
  RZ(omega) RY(theta) RZ(phi)``.

What makes it fast:

* the QMTL encoder runs in the Hadamard frame, where the data layer is an elementwise phase and
  the trainable rotations are batch-independent: each layer is one fused step
  (:func:`phase_rotate_permute`: phase, two matrix products over the whole batch, one gather for
  the CNOT ladder; from Q = 12 on, :func:`phase_rotate_permute_chunks`, one smaller product per
  group of about four wires) with a hand-written backward;
* a fixed sequence of CNOTs is a permutation of basis states, applied as one gather;
* a task block acts on a few qubits only, so its readout needs only the task's reduced density
  matrix ``rho_t`` (``2**S_t`` square): ``<O> = Re tr(rho_t U^† O U)``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch

from qmtl_utils.quantum.config import QMTLConfig, same_block_tasks
from qmtl_utils.quantum.observables import pauli_matrix


def complex_dtype(real_dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if real_dtype == torch.float64 else torch.complex64


def rx(angle: torch.Tensor) -> torch.Tensor:
    """``RX(angle)`` as ``(..., 2, 2)`` complex matrices.

    Taught in: 02_heads, "A fast exact simulator"
    """
    c, s = torch.cos(angle / 2), torch.sin(angle / 2)
    zero = torch.zeros_like(c)
    real = torch.stack([torch.stack([c, zero], -1), torch.stack([zero, c], -1)], -2)
    imag = torch.stack([torch.stack([zero, -s], -1), torch.stack([-s, zero], -1)], -2)
    return torch.complex(real, imag)


def ry(angle: torch.Tensor) -> torch.Tensor:
    """``RY(angle)`` as ``(..., 2, 2)`` complex matrices."""
    c, s = torch.cos(angle / 2), torch.sin(angle / 2)
    real = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    return torch.complex(real, torch.zeros_like(real))


def rz(angle: torch.Tensor) -> torch.Tensor:
    """``RZ(angle)`` as ``(..., 2, 2)`` complex matrices.

    Taught in: 02_heads, "A fast exact simulator"
    """
    c, s = torch.cos(angle / 2), torch.sin(angle / 2)
    zero = torch.zeros_like(c)
    real = torch.stack([torch.stack([c, zero], -1), torch.stack([zero, c], -1)], -2)
    imag = torch.stack([torch.stack([-s, zero], -1), torch.stack([zero, s], -1)], -2)
    return torch.complex(real, imag)


def rot(phi: torch.Tensor, theta: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """PennyLane's ``Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi)``."""
    return rz(omega) @ ry(theta) @ rz(phi)


def zero_state(batch: int, n_qubits: int, dtype: torch.dtype, device=None) -> torch.Tensor:
    """``|0…0>`` for a batch."""
    state = torch.zeros((batch, 2**n_qubits), dtype=complex_dtype(dtype), device=device)
    state[:, 0] = 1.0
    return state


def apply_single_qubit_layer(state: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """Apply ``gates[:, i]`` to wire ``i`` for every wire: ``(⊗_i G_i)|psi>``.

    ``state``: ``(batch, 2**Q)``; ``gates``: ``(batch or 1, Q, 2, 2)`` (per-sample or shared).
    The register is split into its first ``h = Q // 2`` wires and the rest; with the state as a
    ``2**h x 2**(Q-h)`` matrix ``M`` per sample, ``(A ⊗ B) psi = A M B^T`` with ``A``, ``B`` the
    Kronecker products of each half's gates: two batched matrix products, no transposed copies.
    """
    batch, dim = state.shape
    n_qubits = gates.shape[1]
    if n_qubits == 1:
        return (gates[:, 0] @ state.unsqueeze(-1)).squeeze(-1)
    half = n_qubits // 2
    left, right = kron_wires(gates[:, :half]), kron_wires(gates[:, half:])
    matrix = state.reshape(batch, 2**half, 2 ** (n_qubits - half))
    return (left @ matrix @ right.transpose(1, 2)).reshape(batch, dim)


def product_state(vectors: torch.Tensor) -> torch.Tensor:
    """``⊗_i vectors[:, i]`` for single-qubit states ``vectors`` of shape ``(batch, Q, 2)``: ``(batch, 2**Q)``.

    Cheaper than applying a first layer of gates to a uniform state. Each half of the register
    is built separately and the halves are joined by one outer product, so only one operation
    (and its gradient) touches all ``2**Q`` amplitudes.
    """

    def kron_vectors(vs: torch.Tensor) -> torch.Tensor:
        out = vs[:, 0]
        for wire in range(1, vs.shape[1]):
            out = (out.unsqueeze(2) * vs[:, wire].unsqueeze(1)).reshape(vs.shape[0], -1)
        return out

    half = max(vectors.shape[1] // 2, 1)
    if half == vectors.shape[1]:
        return kron_vectors(vectors)
    left, right = kron_vectors(vectors[:, :half]), kron_vectors(vectors[:, half:])
    # an outer product written as a matrix product: its gradients are matrix products as well
    return (left.unsqueeze(2) @ right.unsqueeze(1)).reshape(vectors.shape[0], -1)


def transposed_permutation(perm: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Gather index that applies ``perm`` to a state stored transposed (``rows x cols`` as ``cols x rows``):
    one gather both undoes the transposition and permutes."""
    return (perm % cols) * rows + perm // cols


class _PhaseRotatePermute(torch.autograd.Function):
    """``P · (left ⊗ right) · (state ⊙ phases)`` with a hand-written backward.

    With the state as a ``rows x cols`` matrix ``M`` per sample, ``(left ⊗ right) vec(M)`` is
    ``left M right^T``: two plain matrix products over the whole batch, shared by every sample
    (one transposed copy between them). The result stays transposed, and one gather with
    ``perm_t`` (:func:`transposed_permutation`) both undoes that and applies ``P``. The
    backward uses the same few matrix products in reverse, with PyTorch's convention for complex
    gradients (``grad_x = A^H grad_y`` for ``y = A x``), about half of what generic autograd
    records for this sequence of operations.
    """

    @staticmethod
    def forward(ctx, state, phases, left, right, perm_t):
        batch, dim = state.shape
        rows, cols = left.shape[0], right.shape[0]
        rotated = state * phases
        half = (rotated.reshape(batch * rows, cols) @ right.transpose(0, 1)).reshape(batch, rows, cols)
        half_t = half.transpose(1, 2).reshape(batch * cols, rows)
        out = (half_t @ left.transpose(0, 1)).reshape(batch, dim)
        ctx.save_for_backward(state, phases, left, right, perm_t, rotated, half_t)
        return torch.gather(out, 1, perm_t.expand(batch, -1))

    @staticmethod
    def backward(ctx, grad):
        state, phases, left, right, perm_t, rotated, half_t = ctx.saved_tensors
        batch, dim = state.shape
        rows, cols = left.shape[0], right.shape[0]
        grad_out = torch.gather(grad, 1, torch.argsort(perm_t).expand(batch, -1)).reshape(batch * cols, rows)
        grad_left = (grad_out.mH @ half_t).conj() if ctx.needs_input_grad[2] else None  # no big conj copy
        grad_half = (grad_out @ left.conj()).reshape(batch, cols, rows).transpose(1, 2).reshape(batch * rows, cols)
        grad_right = None
        if ctx.needs_input_grad[3]:
            grad_right = (grad_half.mH @ rotated.reshape(batch * rows, cols)).conj()
        grad_rotated = (grad_half @ right.conj()).reshape(batch, dim)
        grad_state = grad_rotated * phases.conj() if ctx.needs_input_grad[0] else None
        grad_phases = grad_rotated * state.conj() if ctx.needs_input_grad[1] else None
        return grad_state, grad_phases, grad_left, grad_right, None


def phase_rotate_permute(state, phases, left, right, perm_t):
    """``gather(perm_t) · (left ⊗ right) · (state ⊙ phases)``, ``perm_t`` from :func:`transposed_permutation`."""
    return _PhaseRotatePermute.apply(state, phases, left, right, perm_t)


def _on_axis(x: torch.Tensor, gate: torch.Tensor, before: int, size: int, after: int) -> torch.Tensor:
    """``gate`` (``size x size``) applied to the middle axis of ``x`` viewed as ``(before, size, after)``."""
    if after == 1:
        return x.reshape(before, size) @ gate.transpose(0, 1)
    return torch.matmul(gate, x.reshape(before, size, after))


def _gate_gradient(grad: torch.Tensor, x: torch.Tensor, before: int, size: int, after: int) -> torch.Tensor:
    """``Σ_{b,a} grad[b,i,a] conj(x[b,j,a])``: the gradient of a gate applied by :func:`_on_axis`
    (PyTorch's complex convention ``grad_A = grad_y x^H`` for ``y = A x``)."""
    if after == 1:
        return grad.reshape(before, size).transpose(0, 1) @ x.reshape(before, size).conj()
    return (grad.reshape(before, size, after) @ x.reshape(before, size, after).mH).sum(0)


class _PhaseRotatePermuteChunks(torch.autograd.Function):
    """``P · (G_1 ⊗ G_2 ⊗ … ⊗ G_k) · (state ⊙ phases)`` for batch-independent gates on consecutive
    groups of wires, with a hand-written backward: each ``G_c`` is one matrix product on its axis of
    the state viewed as ``(batch · before, 2**s_c, after)``.

    With ``k`` groups a layer costs ``Σ_c 2**s_c`` multiply-adds per amplitude instead of
    ``2**h + 2**(Q-h)`` for the two halves of :class:`_PhaseRotatePermute`: for Q = 13 in groups
    of 4, 4 and 5 wires, 64 instead of 192. Small matrix products run less efficiently, so the
    halves stay faster up to about Q = 11 (``benchmarks/bench_update.py`` measures both).
    """

    @staticmethod
    def forward(ctx, state, phases, perm, inverse, *gates):
        batch, dim = state.shape
        x = state * phases
        inputs, before = [], batch
        for gate in gates:
            size = gate.shape[0]
            inputs.append(x)
            x = _on_axis(x, gate, before, size, batch * dim // before // size)
            before *= size
        ctx.save_for_backward(state, phases, inverse, *inputs, *gates)
        return torch.gather(x.reshape(batch, dim), 1, perm.expand(batch, -1))

    @staticmethod
    def backward(ctx, grad):
        state, phases, inverse, *rest = ctx.saved_tensors
        k = len(rest) // 2
        inputs, gates = rest[:k], rest[k:]
        batch, dim = state.shape
        befores = [batch]
        for gate in gates[:-1]:
            befores.append(befores[-1] * gate.shape[0])
        grad_x = torch.gather(grad, 1, inverse.expand(batch, -1))
        grad_gates = [None] * k
        for c in reversed(range(k)):
            before, size = befores[c], gates[c].shape[0]
            after = batch * dim // before // size
            if ctx.needs_input_grad[4 + c]:
                grad_gates[c] = _gate_gradient(grad_x, inputs[c], before, size, after)
            grad_x = _on_axis(grad_x, gates[c].mH, before, size, after)
        grad_x = grad_x.reshape(batch, dim)
        grad_state = grad_x * phases.conj() if ctx.needs_input_grad[0] else None
        grad_phases = grad_x * state.conj() if ctx.needs_input_grad[1] else None
        return (grad_state, grad_phases, None, None, *grad_gates)


def phase_rotate_permute_chunks(state, phases, gates, perm, inverse=None):
    """``gather(perm) · (gates[0] ⊗ gates[1] ⊗ …) · (state ⊙ phases)`` (see :class:`_PhaseRotatePermuteChunks`);
    ``inverse`` is ``argsort(perm)``, computed here when not given (the encoder passes it once for all layers)."""
    inverse = torch.argsort(perm) if inverse is None else inverse
    return _PhaseRotatePermuteChunks.apply(state, phases, perm, inverse, *gates)


def wire_groups(n_qubits: int) -> list[int]:
    """How the encoder's trainable layer is split: two halves up to Q = 11 (:class:`_PhaseRotatePermute`),
    groups of about four wires from Q = 12 on (:class:`_PhaseRotatePermuteChunks`), larger groups last."""
    if n_qubits < CHUNKED_FROM_QUBITS:
        half = max(n_qubits // 2, 1)
        return [half, n_qubits - half] if n_qubits > 1 else [1]
    k = n_qubits // 4
    return [n_qubits // k + (i >= k - n_qubits % k) for i in range(k)]


CHUNKED_FROM_QUBITS = 12  # measured: benchmarks/bench_update.py


def kron_shared(matrices: Sequence[torch.Tensor]) -> torch.Tensor:
    """``M_0 ⊗ M_1 ⊗ …`` of batch-independent square matrices."""
    out = matrices[0]
    for matrix in matrices[1:]:
        out = torch.kron(out, matrix)
    return out


@lru_cache(maxsize=32)
def hadamard(n_qubits: int, dtype: torch.dtype, device=None) -> torch.Tensor:
    """``H^{⊗n}`` as a dense complex matrix (cached; do not modify in place).

    Taught in: 02_heads, "A fast exact simulator"
    """
    h = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=dtype, device=device) / 2**0.5
    return kron_shared([h] * n_qubits).to(complex_dtype(dtype))


@lru_cache(maxsize=32)
def _z_signs(n_qubits: int, dtype: torch.dtype, device) -> torch.Tensor:
    """``(Q, 2**Q)`` matrix of ``1 - 2 x_i`` for every basis state ``x``."""
    return torch.as_tensor((1 - 2 * _basis_bits(n_qubits)).T.copy(), dtype=dtype, device=device)


def z_phases(angles: torch.Tensor) -> torch.Tensor:
    """Diagonal of ``⊗_i RZ(angles[:, i])``: ``(batch, 2**Q)`` complex, ``exp(-i/2 Σ_i a_i (1 - 2 x_i))``.

    Built as a product state of the per-qubit diagonals ``(e^{-ia/2}, e^{ia/2})``.
    """
    half = torch.complex(torch.cos(angles / 2), torch.sin(angles / 2))  # e^{ia/2}
    return product_state(torch.stack((half.conj(), half), dim=-1))


def _basis_bits(n_qubits: int) -> np.ndarray:
    """``(2**Q, Q)`` array of the bits of every basis index, wire 0 first."""
    index = np.arange(2**n_qubits)
    return (index[:, None] >> np.arange(n_qubits - 1, -1, -1)[None, :]) & 1


@lru_cache(maxsize=32)
def _cnot_permutation_np(n_qubits: int, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Index ``perm`` with ``(CNOT_k … CNOT_1 |psi>)[j] = psi[perm[j]]`` for the CNOT sequence."""
    bits = _basis_bits(n_qubits)
    # Invert the circuit on the output bitstring: undo the last CNOT first.
    for control, target in reversed(pairs):
        bits[:, target] ^= bits[:, control]
    weights = 1 << np.arange(n_qubits - 1, -1, -1)
    return bits @ weights


def cnot_permutation(n_qubits: int, pairs: Sequence[tuple[int, int]], device=None) -> torch.Tensor:
    """Gather index of a CNOT sequence ``pairs = [(control, target), ...]`` applied in order."""
    return _cnot_permutation_torch(n_qubits, tuple(tuple(p) for p in pairs), str(torch.device(device or "cpu")))


@lru_cache(maxsize=64)
def _cnot_permutation_torch(n_qubits, pairs, device: str) -> torch.Tensor:
    return torch.as_tensor(_cnot_permutation_np(n_qubits, pairs), dtype=torch.long, device=device)


class _PermuteBasis(torch.autograd.Function):
    """``out[:, j] = state[:, perm[j]]`` with ``torch.gather`` (several times faster than advanced
    indexing here) and, since a permutation is unitary, the inverse gather as its backward."""

    @staticmethod
    def forward(ctx, state, perm, inverse):
        ctx.save_for_backward(inverse)
        return torch.gather(state, 1, perm.expand(state.shape[0], -1))

    @staticmethod
    def backward(ctx, grad):
        (inverse,) = ctx.saved_tensors
        return torch.gather(grad, 1, inverse.expand(grad.shape[0], -1)), None, None


def permute_basis(state: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Apply a basis permutation (e.g. :func:`cnot_permutation`): ``out[:, j] = state[:, perm[j]]``."""
    return _PermuteBasis.apply(state, perm, torch.argsort(perm))


def ladder_pairs(n_qubits: int) -> list[tuple[int, int]]:
    """The encoder's CNOT ladder CNOT(0,1), CNOT(1,2), …, CNOT(Q-2,Q-1)."""
    return [(i, i + 1) for i in range(n_qubits - 1)]


def ring_pairs(n_qubits: int) -> list[tuple[int, int]]:
    """CNOT(0,1), …, CNOT(Q-2,Q-1), CNOT(Q-1,0) (no gates for one qubit)."""
    if n_qubits < 2:
        return []
    return [(i, (i + 1) % n_qubits) for i in range(n_qubits)] if n_qubits > 2 else [(0, 1), (1, 0)]


def sel_ranges(n_layers: int, n_wires: int) -> tuple[int, ...]:
    """PennyLane's default ``StronglyEntanglingLayers`` ranges."""
    if n_wires == 1:
        return (0,) * n_layers
    return tuple((layer % (n_wires - 1)) + 1 for layer in range(n_layers))


def sel_pairs(n_wires: int, layer_range: int) -> list[tuple[int, int]]:
    """The CNOTs of one ``StronglyEntanglingLayers`` layer, on local wires ``0..n_wires-1``."""
    if n_wires == 1:
        return []
    return [(i, (i + layer_range) % n_wires) for i in range(n_wires)]


def kron_wires(gates: torch.Tensor) -> torch.Tensor:
    """``G_0 ⊗ G_1 ⊗ …`` for gates of shape ``(..., S, 2, 2)``: ``(..., 2**S, 2**S)``."""
    out = gates[..., 0, :, :]
    for wire in range(1, gates.shape[-3]):
        n = out.shape[-1]
        out = torch.einsum("...ij,...kl->...ikjl", out, gates[..., wire, :, :]).reshape(*out.shape[:-2], 2 * n, 2 * n)
    return out


def sel_unitary(weights: torch.Tensor) -> torch.Tensor:
    """Dense ``2**S`` unitary of ``StronglyEntanglingLayers(weights)`` on ``S`` local wires.

    ``weights``: ``(..., L_h, S, 3)`` real (leading dimensions: several blocks at once); each
    layer is ``CNOTs · (⊗_i Rot_i)``.
    """
    n_layers, n_wires = weights.shape[-3], weights.shape[-2]
    matrix = torch.eye(2**n_wires, dtype=complex_dtype(weights.dtype), device=weights.device)
    for layer, layer_range in enumerate(sel_ranges(n_layers, n_wires)):
        w = weights[..., layer, :, :]
        matrix = kron_wires(rot(w[..., 0], w[..., 1], w[..., 2])) @ matrix
        pairs = sel_pairs(n_wires, layer_range)
        if pairs:
            matrix = matrix[..., cnot_permutation(n_wires, pairs, device=weights.device), :]
    return matrix


class _Gram(torch.autograd.Function):
    """``x @ x^H`` for a batch of complex matrices, with the one-product backward
    ``(G + G^H) @ x`` (autograd's generic rule takes two products and a sum)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x @ x.mH

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return (grad + grad.mH) @ x


def reduced_density_matrix(state: torch.Tensor, wires: Sequence[int], n_qubits: int) -> torch.Tensor:
    """``rho[b] = tr_{other wires} |psi_b><psi_b|`` on ``wires`` (in that order): ``(batch, 2**S, 2**S)``.

    For a contiguous block of wires (the usual task layout) the state is viewed as ``(leading, block,
    trailing)``. Every path costs ``batch · 2**Q · 2**S`` multiply-adds: with no leading wires, or no
    trailing ones, the state is used as it is; with fewer leading than trailing wires the leading ones
    are summed after a matrix product over the trailing ones; otherwise the block is moved to the
    front in one copy and both sides are contracted in one product (a product over the leading
    wires alone would build a ``(block · trailing)``-square matrix, ``trailing`` times the work).

    Taught in: 02_heads, "A fast exact simulator"
    """
    batch, wires = state.shape[0], list(wires)
    first, n_wires = wires[0], len(wires)
    rest = n_qubits - first - n_wires
    block = 2**n_wires
    if wires != list(range(first, first + n_wires)):
        others = [w for w in range(n_qubits) if w not in wires]
        psi = state.reshape(batch, *([2] * n_qubits)).permute(0, *[1 + w for w in wires + others])
        return _Gram.apply(psi.reshape(batch, block, -1))
    if rest >= first:  # contract the trailing wires in a matrix product, sum the leading ones
        rho = _Gram.apply(state.reshape(batch * 2**first, block, 2**rest))
        return rho.reshape(batch, 2**first, block, block).sum(1)
    if rest == 0:  # the block is the last wires: contract the leading ones
        return _Gram.apply(state.reshape(batch, 2**first, block).transpose(1, 2))
    # the block to the front (one copy of the state), then one product over everything else
    psi = state.reshape(batch, 2**first, block, 2**rest).transpose(1, 2).reshape(batch, block, -1)
    return _Gram.apply(psi)


def rotated_observables(words: Sequence[str], unitary: torch.Tensor) -> torch.Tensor:
    """``U^† O_k U`` for each Pauli word ``O_k``: ``(..., K, 2**S, 2**S)`` for ``unitary`` ``(..., 2**S, 2**S)``."""
    ops = _pauli_stack(tuple(words), unitary.dtype, unitary.device)
    unitary = unitary.unsqueeze(-3)
    return unitary.mH @ ops @ unitary


@lru_cache(maxsize=128)
def _pauli_stack(words: tuple[str, ...], dtype: torch.dtype, device) -> torch.Tensor:
    return torch.as_tensor(np.stack([pauli_matrix(w) for w in words]), dtype=dtype, device=device)


def expval_z_all(state: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """``<Z_i>`` on every wire: ``(batch, Q)`` real."""
    probs = state.real**2 + state.imag**2
    return probs @ _z_signs(n_qubits, probs.dtype, probs.device).T


# --------------------------------------------------------------------------- the heads' circuits


def qmtl_encoder_state(z, encoder_weights, config: QMTLConfig) -> torch.Tensor:
    """The shared encoder state of Eqs. (2)-(3), ``(batch, 2**Q)``, in the Hadamard frame.

    The simulation runs in the Hadamard-rotated frame ``phi = H^{⊗Q} psi``, where Eqs. (2)-(3)
    become cheap: the start ``H^{⊗Q}|0>`` is ``|0…0>``; the data layer ``⊗RX(z_i)`` becomes the
    diagonal ``⊗RZ(z_i)`` (an elementwise phase, the only per-sample operation); each trainable
    ``RY(θ)RZ(θ)`` becomes ``H RY(θ)RZ(θ) H``, shared by the batch and applied as two
    half-register matrices; and the CNOT ladder becomes the ladder with control and target
    swapped, a basis permutation. The readout undoes the frame on the task qubits only.

    A consequence worth knowing: ``RZ(z)|0> = e^{-iz/2}|0>``, i.e. ``RX(z)|+> = e^{-iz/2}|+>``, so
    the first data layer only adds a global phase and the first ``Q`` features never change any
    output of the circuit as Eqs. (2)-(3) define it. ``config.encoding_order = "written"`` reads
    each factor of Eq. (3) left to right instead: rotations, CNOT ladder, *then* the data layer,
    so every feature reaches the readout (the last data layer's phase is applied at the end).

    Taught in: 02_heads, "A fast exact simulator"
    Taught in: 04a_task_scaling_and_shots, "Exercises"
    """
    z = encoding_angles(z, config)
    batch, Q = z.shape[0], config.n_qubits
    features = z.reshape(batch, config.n_layers, Q)
    written = config.encoding_order == "written"
    hadamard_1 = hadamard(1, z.dtype, z.device)
    swapped_ladder = [(target, control) for control, target in ladder_pairs(Q)]
    ladder = cnot_permutation(Q, swapped_ladder, z.device) if config.entangle and Q > 1 else None
    groups = wire_groups(Q)
    ends = np.cumsum([0, *groups])
    perm = torch.arange(2**Q, device=z.device) if ladder is None else ladder
    if len(groups) <= 2:  # two halves: the rotations leave the state transposed, one gather undoes that too
        half = groups[0]
        perm = transposed_permutation(perm, 2**half, 2 ** (Q - half))
    else:  # the groups' kernel undoes the permutation in its backward: one inverse for every layer
        inverse = torch.argsort(perm)
    for layer in range(config.n_layers):  # Eq. (3): U_param,ℓ U_enc,ℓ
        theta = encoder_weights[layer]
        rotations = hadamard_1 @ ry(theta) @ rz(theta) @ hadamard_1  # (Q, 2, 2)
        if layer == 0:  # no data phase yet ("operator": RZ(z)|0…0> is a global phase): a product state
            state = product_state(rotations[:, :, 0].unsqueeze(0))
            if ladder is not None:  # one sample's worth of work, shared by the batch
                state = permute_basis(state, ladder)
            state = state.expand(batch, -1)
            continue
        gates = [kron_shared(list(rotations[a:b])) for a, b in zip(ends[:-1], ends[1:])]
        # the data phase before this layer's rotations: its own ("operator") or the previous layer's
        data = features[:, layer - 1] if written else features[:, layer]
        if len(gates) > 2:
            state = phase_rotate_permute_chunks(state, z_phases(data), gates, perm, inverse)
        else:
            right = gates[1] if Q > 1 else torch.ones_like(gates[0][:1, :1])
            state = phase_rotate_permute(state, z_phases(data), gates[0], right, perm)
    return state * z_phases(features[:, -1]) if written else state  # "written" ends on a data layer


def encoding_angles(z: torch.Tensor, config: QMTLConfig) -> torch.Tensor:
    """The angles Eq. (3) encodes: ``Z`` itself (``angle_map="identity"``, the paper) or ``π·tanh(Z)``.

    Taught in: 03a_mustard_fit, "Exercises"
    """
    return math.pi * torch.tanh(z) if config.angle_map == "pi_tanh" else z


def qmtl_expvals(z, encoder_weights, task_weights, config: QMTLConfig) -> torch.Tensor:
    """Fast exact QMTL readout, Eqs. (2)-(5): ``(batch, Σ r_t)``, the same numbers as
    :func:`qmtl_utils.quantum.pennylane_circuits.qmtl_circuit` (tests/test_simulator_parity.py).

    Taught in: 02_heads, "A fast exact simulator"
    """
    state = qmtl_encoder_state(z, encoder_weights, config)
    # Stage 2, Eqs. (4)-(5): tasks with the same block size and observables are done together
    readouts = {}
    for tasks in same_block_tasks(config):
        words, n_wires = config.observables[tasks[0]], config.task_qubits[tasks[0]]
        unitaries = sel_unitary(torch.stack([task_weights[t] for t in tasks]))
        observables = rotated_observables(words, unitaries @ hadamard(n_wires, z.dtype, z.device))
        rho = torch.stack([reduced_density_matrix(state, config.task_wires[t], config.n_qubits) for t in tasks])
        values = torch.einsum("gbij,gkji->gbk", rho, observables).real
        readouts.update(zip(tasks, values))
    return torch.cat([readouts[t] for t in range(config.n_tasks)], dim=1)


def qmtl_task_density_matrices(z, encoder_weights, task_weights, config: QMTLConfig) -> list[torch.Tensor]:
    """State of each task register after its sub-circuit (Eq. (4)), in the computational basis:
    one ``(batch, 2**S_t, 2**S_t)`` density matrix per task. ``tr(rho_t O)`` is Eq. (5); finite-shot
    readout samples from its diagonal in each observable's measurement basis.

    Taught in: 02_heads, "A fast exact simulator"
    """
    state = qmtl_encoder_state(z, encoder_weights, config)
    out = []
    for t, (weights, wires) in enumerate(zip(task_weights, config.task_wires)):
        u = sel_unitary(weights.unsqueeze(0))[0] @ hadamard(len(wires), z.dtype, z.device)
        rho = reduced_density_matrix(state, wires, config.n_qubits)
        out.append(u @ rho @ u.mH)
    return out


HQNN_ANSATZE = ("ry_ring", "ring", "ry_ladder")  # our reconstruction first (Appendix B is open)


def hqnn_entangler(ansatz: str, n_qubits: int) -> list[tuple[int, int]]:
    """The CNOTs closing each HQNN repetition: the ring (default) or the ladder (``"ry_ladder"``)."""
    if ansatz not in HQNN_ANSATZE:
        raise ValueError(f"unknown HQNN ansatz {ansatz!r}; use one of {HQNN_ANSATZE}")
    return ladder_pairs(n_qubits) if ansatz == "ry_ladder" else ring_pairs(n_qubits)


def hqnn_expvals(
    angles: torch.Tensor, weights: torch.Tensor, ansatz: str = "ry_ring", n_qubits: int | None = None
) -> torch.Tensor:
    """Fast exact HQNN readout (same result as :func:`qmtl_utils.quantum.pennylane_circuits.hqnn_circuit`).

    ``weights``: ``(n_repeats, Q)`` trainable RY angles; ``ansatz="ring"`` has none (``(n_repeats, 0)``,
    then ``n_qubits`` gives Q)."""
    batch, n_repeats = angles.shape[0], weights.shape[0]
    Q = n_qubits or weights.shape[1]
    pairs = hqnn_entangler(ansatz, Q)
    if n_repeats == 0:
        return expval_z_all(zero_state(batch, Q, angles.dtype, angles.device), Q)
    encode = rz(angles[:, 2]) @ ry(angles[:, 1]) @ rx(angles[:, 0])  # (batch, 2, 2)
    entangler = cnot_permutation(Q, pairs, angles.device) if pairs else None
    for repeat in range(n_repeats):
        gates = encode.unsqueeze(1).expand(-1, Q, -1, -1)
        if ansatz != "ring":
            gates = ry(weights[repeat]).unsqueeze(0) @ gates  # (batch, Q, 2, 2)
        if repeat == 0:  # from |0…0>: the product of each gate's first column
            state = product_state(gates[..., 0])
        else:
            state = apply_single_qubit_layer(state, gates)
        if entangler is not None:
            state = permute_basis(state, entangler)
    return expval_z_all(state, Q)
