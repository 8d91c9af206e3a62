"""Exact depolarizing-noise readout of a QMTL head in PyTorch (§6.3): expectation values and shots.

§6.3 follows every one- and two-qubit gate of the head's circuit (Eqs. (2)-(4)) with a depolarizing
channel of the same probability ``p``. :mod:`qmtl_utils.quantum.aer_noise` runs this on Qiskit Aer's density
matrix simulator (``4**Q`` complex entries, about a second per sample at ``Q = 10``); this module
computes the same numbers exactly, batched over samples, on CPU or CUDA in float32 or float64.

**Pauli picture.** A state of ``n`` qubits is the real vector ``c_P = Tr(ρ P)`` over the ``4**n``
Pauli strings ``P`` (letters ``I, X, Y, Z`` = digits ``0..3``, the first letter on the first wire,
as in :func:`~qmtl_utils.quantum.observables.pauli_matrix`). A channel is a real matrix on that vector, its
Pauli transfer matrix (PTM). Qiskit's ``depolarizing_error(λ, n)`` is
``E(ρ) = (1-λ) ρ + λ Tr(ρ) I/2**n``: it multiplies every string that is not the identity on its
``n`` qubits by ``1-λ``. Such a channel commutes with every unitary on the same qubits, so a
one-qubit gate followed by its channel is the gate's PTM times ``diag(1, 1-p, 1-p, 1-p)``, and
``k`` noisy one-qubit gates in a row on a qubit damp by ``(1-p)**k``. A partial trace keeps the
strings that are ``I`` on the traced qubits, so a task register's reduced state is a sub-vector.

**Contraction.** The circuit is contracted exactly as a 1D tensor network, one column per qubit
(no truncation, nothing sampled): the product state after ``H`` and the first encoder layer at the
bottom; above it, per encoder layer ``ℓ``, the noisy CNOT ladder of Eq. (3) as a matrix product
operator (every ``CNOT(q, q+1)`` followed by ``depolarizing_error(p, 2)``, an exact operator-Schmidt
split of that 16×16 PTM, rank 4 at ``p = 0`` and 5 above, so bond dimension ``r ≤ 5``), then the
next layer's per-qubit 4×4 maps (data-dependent through ``RX(z)`` only); at the top ``I`` (traced
out) or a free index (a task wire). Left and right environments of traced columns are swept once;
each task contracts its span with free indices, giving its register's ``4**S_t`` coefficients. The
cost is linear in ``Q`` (an environment holds ``r**L ≤ 125`` numbers per sample at ``L = 3``), not
``4**Q``: the CheXpert head (Q = 10) takes about 10-25 ms per batch of 64 on one CPU thread.

**Task blocks and readout** (Eqs. (4)-(5)) do not depend on the sample: each task's noisy
``StronglyEntanglingLayers`` block is one ``4**S_t`` PTM built once per call, and the readout basis
change of a measurement setting damps a measured ``X`` or ``Y`` by its own noisy gates.

**Gate granularity** (``granularity``; the paper does not say how gates are counted):

* ``"native"`` (default) — what :func:`qmtl_utils.quantum.aer_noise.aer_expectation_values` runs: the circuit
  of :func:`~qmtl_utils.quantum.qiskit_circuits.qmtl_qiskit_circuit` in ``{h, rx, ry, rz, cx}``: ``H`` is one
  noisy gate, each encoder layer is three (``RX(z)``, ``RZ(θ)``, ``RY(θ)``) per qubit, each ``Rot``
  three (``RZ``, ``RY``, ``RZ``). Readout as Qiskit's ``BackendEstimatorV2`` appends it (its
  ``Optimize1qGatesDecomposition`` pass on ``sdg``/``h``, then the noise model): ``X`` gets one
  noisy ``h``, ``Y`` two noisy gates (``rz(π/2)``, ``ry(π/2)``), ``Z`` none.
* ``"merged"`` — one noisy gate per rotation of the paper's equations: per qubit and encoder layer
  the whole ``RY(θ)RZ(θ)RX(z)`` of Eqs. (2)-(3) (``U_param,ℓ U_enc,ℓ`` on that qubit) is one gate,
  each ``Rot`` of Eq. (4) is one gate, the initial ``H^{⊗Q}`` stays one gate per qubit (it is not a
  rotation of a layer; merging it into the first layer's gate would drop one channel per
  qubit), and a readout basis change is one gate (``X``: ``H``; ``Y``: ``H S†``). CNOTs are
  unchanged.

Public entry points: :func:`noisy_expectation_values` (exact ``(N, Σ r_t)``),
:func:`noisy_task_pauli_vectors` and :func:`noisy_task_density_matrices` (each task register after
its block), :func:`noisy_measurement_probabilities` (outcome distribution of every measurement
setting) and :func:`noisy_sample_expvals` (finite shots drawn from those with
:mod:`qmtl_utils.quantum.shots`'s sampler). tests/test_exact_noise.py checks them against Aer.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import torch

from qmtl_utils.quantum import shots as shots_mod
from qmtl_utils.quantum.config import QMTLConfig, require_literal_encoding
from qmtl_utils.quantum.observables import pauli_matrix
from qmtl_utils.quantum.statevector import sel_pairs, sel_ranges

if TYPE_CHECKING:  # annotations only: the head lives in a higher layer (models)
    from qmtl_utils.models.heads import QMTLHead

GRANULARITIES = ("native", "merged")
PAULI_DIGIT = {"I": 0, "X": 1, "Y": 2, "Z": 3}
CHUNK_ENTRIES = 2**24  # numbers in the largest intermediate per chunk of samples (64 MiB in float32)
_ROTATION_PLANE = {"X": (2, 3), "Y": (3, 1), "Z": (1, 2)}  # (Y, Z), (Z, X), (X, Y): cyclic


def check_noise(p: float, granularity: str) -> None:
    """Raise ``ValueError`` unless ``0 <= p <= 1`` and ``granularity`` is one of ``GRANULARITIES``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"depolarizing probability must be in [0, 1], got {p}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")


def gates_per_unit(granularity: str) -> dict[str, int]:
    """Noisy one-qubit gates per circuit unit (§6.3): ``H``, one encoder layer on one qubit,
    one ``Rot``, and the readout basis change of an ``X`` and a ``Y`` measurement.

    Taught in: 05_noise, "How the gates are counted changes the slope"
    """
    if granularity == "native":
        return {"H": 1, "encoder": 3, "rot": 3, "X": 1, "Y": 2, "Z": 0}
    return {"H": 1, "encoder": 1, "rot": 1, "X": 1, "Y": 1, "Z": 0}


# --------------------------------------------------------------------------- Pauli transfer matrices


def rotation_ptm(axis: str, angle: torch.Tensor) -> torch.Tensor:
    """PTM ``T[P, P'] = Tr(P U P' U†)/2`` of ``U = exp(-i angle σ_axis / 2)``: ``(..., 4, 4)`` real,
    rows and columns in the order ``I, X, Y, Z``; a rotation of the Bloch vector about ``axis``."""
    c, s = torch.cos(angle), torch.sin(angle)
    out = torch.zeros(*angle.shape, 4, 4, dtype=angle.dtype, device=angle.device)
    out[..., 0, 0] = 1.0
    a = PAULI_DIGIT[axis]
    i, j = _ROTATION_PLANE[axis]  # U σ_i U† = cos·σ_i + sin·σ_j
    out[..., a, a] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., j, i] = s
    out[..., i, j] = -s
    return out


def hadamard_ptm(dtype=torch.float64, device=None) -> torch.Tensor:
    """PTM of ``H``: ``X ↔ Z``, ``Y → -Y``."""
    return torch.tensor([[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, -1, 0], [0, 1, 0, 0]], dtype=dtype, device=device)


def damping(p: float, n_gates: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """``diag(1, λ, λ, λ)`` with ``λ = (1-p)**n_gates``: ``n_gates`` one-qubit depolarizing channels."""
    lam = (1.0 - p) ** n_gates
    return torch.tensor([1.0, lam, lam, lam], dtype=dtype, device=device)


@lru_cache(maxsize=None)
def cnot_ptm() -> np.ndarray:
    """PTM of ``CNOT(control, target)`` on two qubits, strings ``(control, target)``: a signed
    permutation ``T[P, P'] = Tr(P CNOT P' CNOT)/4``."""
    cnot = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
    words = ["".join(w) for w in itertools.product("IXYZ", repeat=2)]
    mats = [pauli_matrix(w) for w in words]
    out = np.array([[np.trace(a @ cnot @ b @ cnot).real / 4 for b in mats] for a in mats])
    return np.rint(out)


def noisy_cnot_ptm(p: float) -> np.ndarray:
    """``depolarizing_error(p, 2)`` after ``CNOT``: the 16×16 PTM with non-identity rows × ``(1-p)``.

    Taught in: 05_noise, "Exercises"
    """
    out = cnot_ptm().copy()
    out[1:] *= 1.0 - p
    return out


@lru_cache(maxsize=32)
def _cnot_mpo_factors(p: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact operator-Schmidt split of the noisy CNOT PTM, ``G = Σ_k A_k ⊗ B_k``: ``A (r, 4, 4)`` on
    the control, ``B (r, 4, 4)`` on the target, ``r = 4`` at ``p = 0`` and 5 otherwise (SVD in float64)."""
    g = noisy_cnot_ptm(p).reshape(4, 4, 4, 4)  # [oc, ot, ic, it]
    k = g.transpose(0, 2, 1, 3).reshape(16, 16)  # [(oc, ic), (ot, it)]
    u, s, vt = np.linalg.svd(k)
    rank = int(np.sum(s > 1e-12 * s[0]))
    root = np.sqrt(s[:rank])
    a = (u[:, :rank] * root).T.reshape(rank, 4, 4)
    b = (vt[:rank] * root[:, None]).reshape(rank, 4, 4)
    assert np.abs(np.einsum("kac,kbd->abcd", a, b) - g).max() < 1e-12
    return a, b


def ladder_mpo(n_qubits: int, p: float, dtype=torch.float64, device=None) -> list[torch.Tensor]:
    """The noisy CNOT ladder ``CNOT(0,1), CNOT(1,2), …`` of Eq. (3), each followed by
    ``depolarizing_error(p, 2)``, as an exact MPO: site ``q`` is ``W_q[left, right, out, in]``
    (``B`` of gate ``(q-1, q)`` acts first, then ``A`` of gate ``(q, q+1)``; outer bonds have size 1).

    Taught in: 05_noise, "Exercises"
    """
    a, b = _cnot_mpo_factors(float(p))
    eye = np.eye(4)[None]
    sites = []
    for q in range(n_qubits):
        left = b if q > 0 else eye  # (r_l, 4, 4)
        right = a if q < n_qubits - 1 else eye  # (r_r, 4, 4)
        sites.append(np.einsum("rom,lmi->lroi", right, left))
    return [torch.as_tensor(w, dtype=dtype, device=device) for w in sites]


def block_ptm(weights: torch.Tensor, p: float, granularity: str = "native") -> torch.Tensor:
    """PTM ``(4**S, 4**S)`` of one task's noisy ``StronglyEntanglingLayers`` block (Eq. (4)) on its
    ``S`` local wires: per layer a noisy ``Rot`` per wire, then the CNOT ring, each CNOT followed by
    ``depolarizing_error(p, 2)``. ``weights``: ``(L_h, S, 3)``; dtype and device follow ``weights``."""
    n_layers, n_wires = weights.shape[:2]
    dtype, device = weights.dtype, weights.device
    dim = 4**n_wires
    ptm = torch.eye(dim, dtype=dtype, device=device).reshape(*([4] * n_wires), dim)
    rot_damp = damping(p, gates_per_unit(granularity)["rot"], dtype, device)
    cnot = torch.as_tensor(noisy_cnot_ptm(p), dtype=dtype, device=device)
    for layer, layer_range in enumerate(sel_ranges(n_layers, n_wires)):
        w = weights[layer]
        rots = rotation_ptm("Z", w[:, 2]) @ rotation_ptm("Y", w[:, 1]) @ rotation_ptm("Z", w[:, 0])
        rots = rot_damp[:, None] * rots  # (S, 4, 4): RZ(ω) RY(θ) RZ(φ), noisy
        for wire in range(n_wires):
            ptm = torch.movedim(torch.tensordot(rots[wire], ptm, dims=([1], [wire])), 0, wire)
        for control, target in sel_pairs(n_wires, layer_range):
            moved = torch.movedim(ptm, (control, target), (0, 1))
            shape = moved.shape
            moved = (cnot @ moved.reshape(16, -1)).reshape(shape)
            ptm = torch.movedim(moved, (0, 1), (control, target))
    return ptm.reshape(dim, dim)


# --------------------------------------------------------------------------- encoder contraction


def _encoder_columns(
    z: torch.Tensor, encoder_weights: torch.Tensor, config: QMTLConfig, p: float, granularity: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-qubit data of Eqs. (2)-(3) in the Pauli picture: the state ``v (B, Q, 4)`` of every qubit
    after ``H`` and the first layer, and the maps ``M (B, L-1, Q, 4, 4)`` of layers ``2..L``
    (``RY(θ) RZ(θ) RX(z)`` with their channels)."""
    batch, Q, L = z.shape[0], config.n_qubits, config.n_layers
    features = z.reshape(batch, L, Q)
    fixed = rotation_ptm("Y", encoder_weights) @ rotation_ptm("Z", encoder_weights)  # (L, Q, 4, 4)
    gates = gates_per_unit(granularity)
    maps = damping(p, gates["encoder"], z.dtype, z.device)[:, None] * (fixed @ rotation_ptm("X", features))
    zero = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=z.dtype, device=z.device)  # |0><0| = (I + Z)/2
    plus = damping(p, gates["H"], z.dtype, z.device) * (hadamard_ptm(z.dtype, z.device) @ zero)  # noisy H|0>
    v = maps[:, 0] @ plus  # (B, Q, 4)
    return v, maps[:, 1:]


def _apply_map(y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """A per-sample one-qubit PTM ``m (4, 4, B)`` on the Pauli axis of ``y (X, 4, F, B)``. Every
    map here is unital and trace preserving (``I`` row and column are ``e_I``), so only its 3×3
    block acts: three broadcast multiply-adds."""
    out = torch.empty_like(y)
    out[:, 0] = y[:, 0]
    block = m[1:, 1:, None, :]  # (3, 3, 1, B)
    torch.mul(y[:, 1:2], block[:, 0], out=out[:, 1:])
    out[:, 1:].addcmul_(y[:, 2:3], block[:, 1]).addcmul_(y[:, 3:4], block[:, 2])
    return out


def _absorb(env: torch.Tensor, bonds: list[int], v: torch.Tensor, ops: list, keep: bool):
    """Contract one qubit's column into an environment.

    Layout (batch last, so shared tensors act by plain matrix products): ``env (*bonds, F, B)``
    with the bonds of the encoder's ladders stored last ladder first, ``F`` the free Pauli indices
    of the task wires absorbed so far. The column is the bottom state ``v (4, B)``, then ``ops`` in
    circuit order (``("map", (4, 4, B))`` or ``("mpo", W[in, out, 4, 4])``), then the top: ``I``
    (traced out, ``keep=False``) or a free index that becomes the most significant digit of ``F``.
    Each MPO contracts the bond next to the Pauli axis and moves its new bond to the front, so after
    the ``L`` ladders of a column the bonds are back in their stored order."""
    free, batch = env.shape[-2:]
    y = env.unsqueeze(-3) * v[:, None, :]  # (*bonds, 4, F, B)
    bonds = list(bonds)
    for kind, op in ops:
        if kind == "map":
            y = _apply_map(y.reshape(-1, 4, free, batch), op)
            continue
        r_in, r_out = op.shape[:2]
        rest = math.prod(bonds[:-1])
        w = op.permute(1, 2, 0, 3).reshape(r_out * 4, r_in * 4)
        y = w @ y.reshape(rest, r_in * 4, free * batch)  # (rest, r_out·4, F·B)
        y = y.reshape(rest, r_out, 4 * free * batch).transpose(0, 1).contiguous()
        bonds = [r_out, *bonds[:-1]]
    y = y.reshape(*bonds, 4, free, batch)
    if keep:
        return y.reshape(*bonds, 4 * free, batch), bonds
    return y[..., 0, :, :], bonds


def encoder_task_pauli_vectors(
    z: torch.Tensor, encoder_weights: torch.Tensor, config: QMTLConfig, p: float, granularity: str = "native"
) -> list[torch.Tensor]:
    """Every task register's state after the noisy encoder of Eqs. (2)-(3), before its block:
    one ``(B, 4**S_t)`` tensor of ``Tr(ρ_t P)`` per task, ``P`` over the task's local strings
    (first letter on ``task_wires[t][0]``). Exact contraction, see the module docstring."""
    check_noise(p, granularity)
    batch, Q = z.shape[0], config.n_qubits
    v, maps = _encoder_columns(z, encoder_weights, config, p, granularity)
    v = v.permute(1, 2, 0).contiguous()  # (Q, 4, B)
    maps = maps.permute(1, 2, 3, 4, 0).contiguous()  # (L-1, Q, 4, 4, B)
    mpo = ladder_mpo(Q, p, z.dtype, z.device) if config.entangle and Q > 1 else None
    n_ladders = config.n_layers if mpo is not None else 0

    def ops(q: int, from_right: bool) -> list:
        out = []
        if mpo is not None:
            w = mpo[q].transpose(0, 1) if from_right else mpo[q]
            out.append(("mpo", w))
        for layer in range(config.n_layers - 1):
            out.append(("map", maps[layer, q]))
            if mpo is not None:
                out.append(("mpo", w))
        return out

    # environments of traced columns (top = I), extended on demand: left[q] holds columns 0..q-1,
    # right[q] columns q..Q-1 (a right environment's bonds are those left of column q)
    one = torch.ones(*([1] * n_ladders), 1, batch, dtype=z.dtype, device=z.device)
    left, right = {0: (one, [1] * n_ladders)}, {Q: (one, [1] * n_ladders)}

    def left_env(q: int):
        for c in range(max(k for k in left if k <= q), q):
            left[c + 1] = _absorb(*left[c], v[c], ops(c, False), keep=False)
        return left[q]

    def right_env(q: int):
        for c in range(min(k for k in right if k >= q) - 1, q - 1, -1):
            right[c] = _absorb(*right[c + 1], v[c], ops(c, True), keep=False)
        return right[q]

    out = []
    for wires in config.task_wires:
        lo, hi = min(wires), max(wires)
        env, bonds = left_env(lo)
        for q in range(lo, hi + 1):
            env, bonds = _absorb(env, bonds, v[q], ops(q, False), keep=q in wires)
        closing, _ = right_env(hi + 1)
        vec = (env.reshape(-1, env.shape[-2], batch) * closing.reshape(-1, 1, batch)).sum(0)  # (F, B)
        order = sorted(wires, reverse=True)  # digits of F: the last absorbed wire most significant
        vec = vec.reshape(*([4] * len(wires)), batch).permute(-1, *[order.index(w) for w in wires])
        out.append(vec.reshape(batch, 4 ** len(wires)))
    return out


# --------------------------------------------------------------------------- head readout (Eqs. (4)-(5))


def _head_tensors(head: QMTLHead, z) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    require_literal_encoding(head.config, "the noisy density-matrix path")
    z = torch.as_tensor(z)
    if not z.is_floating_point():
        z = z.double()
    if z.ndim != 2 or z.shape[1] != head.config.d:
        raise ValueError(f"features must have shape (batch, {head.config.d}); got {tuple(z.shape)}")

    def cast(w: torch.Tensor) -> torch.Tensor:
        return w.detach().to(dtype=z.dtype, device=z.device)

    return z, cast(head.encoder_weights), [cast(w) for w in head.task_weights]


def word_index(word: str) -> int:
    """Position of a Pauli word in a register's ``4**S`` coefficient vector (first letter most significant)."""
    index = 0
    for char in word:
        index = 4 * index + PAULI_DIGIT[char]
    return index


def readout_damping(word: str, p: float, granularity: str = "native") -> float:
    """Factor the noisy basis change of ``word``'s measurement setting puts on ``<word>``:
    ``(1-p)`` per noisy readout gate on the word's ``X`` and ``Y`` letters (none on ``Z``)."""
    gates = gates_per_unit(granularity)
    return (1.0 - p) ** sum(gates[c] for c in word if c != "I")


@torch.no_grad()
def noisy_task_pauli_vectors(head: QMTLHead, z, p: float, granularity: str = "native") -> list[torch.Tensor]:
    """§6.3, Eqs. (2)-(4) under noise: every task register's state after its noisy block, before any
    readout basis change, as ``(N, 4**S_t)`` Pauli coefficients ``Tr(ρ_t P)`` (local strings, the
    first letter on ``task_wires[t][0]``). Computed in ``z``'s dtype and on its device, in chunks
    of samples that keep the largest intermediate near ``CHUNK_ENTRIES`` numbers; evaluation only
    (no gradients)."""
    z, encoder, task_weights = _head_tensors(head, z)
    config = head.config
    ladders = config.n_layers if config.entangle and config.n_qubits > 1 else 0
    per_sample = 4 * 5**ladders * 4 ** max(config.task_qubits)  # the widest task's environment
    chunk = max(1, CHUNK_ENTRIES // per_sample)
    parts = [encoder_task_pauli_vectors(part, encoder, config, p, granularity) for part in torch.split(z, chunk)]
    vectors = [torch.cat(task, dim=0) for task in zip(*parts)]
    return [vec @ block_ptm(w, p, granularity).T for vec, w in zip(vectors, task_weights)]


def noisy_expectation_values(head: QMTLHead, z, p: float, granularity: str = "native") -> torch.Tensor:
    """§6.3, Eq. (5) under depolarizing noise ``p``: the exact (infinite-shot) value of every
    observable, ``(N, Σ r_t)`` in :meth:`~qmtl_utils.models.heads.QMTLHead.expectation_values` order, each
    measured after its noisy readout basis change — what
    :func:`qmtl_utils.quantum.aer_noise.aer_expectation_values` estimates with shots. ``p = 0`` gives the ideal
    readout. dtype (float32/float64) and device (CPU/CUDA) follow ``z``.

    Taught in: 05_noise, "The exact noisy path, checked against Aer"
    """
    vectors = noisy_task_pauli_vectors(head, z, p, granularity)
    columns = []
    for vec, words in zip(vectors, head.config.observables):
        index = torch.tensor([word_index(w) for w in words], device=vec.device)
        factor = torch.tensor([readout_damping(w, p, granularity) for w in words], dtype=vec.dtype, device=vec.device)
        columns.append(vec[:, index] * factor)
    return torch.cat(columns, dim=1)


@lru_cache(maxsize=None)
def _all_pauli_matrices(n_qubits: int) -> np.ndarray:
    return np.stack([pauli_matrix("".join(w)) for w in itertools.product("IXYZ", repeat=n_qubits)])


def noisy_task_density_matrices(head: QMTLHead, z, p: float, granularity: str = "native") -> list[torch.Tensor]:
    """§6.3: every task register's noisy density matrix after its block (Eq. (4)), before readout:
    ``(N, 2**S_t, 2**S_t)`` complex, ``ρ_t = 2**-S_t Σ_P Tr(ρ_t P) P`` (the noisy counterpart of
    :func:`~qmtl_utils.quantum.statevector.qmtl_task_density_matrices`)."""
    out = []
    for vec in noisy_task_pauli_vectors(head, z, p, granularity):
        n_wires = (vec.shape[1].bit_length() - 1) // 2  # 4**S entries
        paulis = torch.as_tensor(
            _all_pauli_matrices(n_wires),
            device=vec.device,
            dtype=torch.complex128 if vec.dtype == torch.float64 else torch.complex64,
        )
        out.append(torch.einsum("np,pij->nij", vec.to(paulis.dtype), paulis) / 2**n_wires)
    return out


@lru_cache(maxsize=None)
def _setting_strings(basis: str) -> tuple[np.ndarray, np.ndarray]:
    """For a measurement basis (one letter per local qubit): the string index of ``basis``
    restricted to each subset ``A`` (bit ``S-1-q`` for qubit ``q``), and the ±1 Walsh matrix
    ``(-1)^{|o ∧ A|}`` over outcomes ``o``."""
    n = len(basis)
    subsets = np.arange(2**n)
    index = np.zeros(2**n, dtype=np.int64)
    for q, char in enumerate(basis):
        bit = (subsets >> (n - 1 - q)) & 1
        index += bit * PAULI_DIGIT[char] * 4 ** (n - 1 - q)
    parity = np.array([[int(o & a).bit_count() % 2 for a in subsets] for o in subsets])
    return index, 1.0 - 2.0 * parity


def noisy_measurement_probabilities(head: QMTLHead, z, p: float, granularity: str = "native") -> list[list[np.ndarray]]:
    """§4.1/§6.3: outcome distribution ``(N, 2**S_t)`` (float64, rows sum to 1) of every measurement
    setting of every task under noise, in the structure of
    :func:`qmtl_utils.quantum.shots.measurement_probabilities` (groups of :func:`~qmtl_utils.quantum.shots.task_groups`).

    A setting measures every qubit of the register in :func:`~qmtl_utils.quantum.shots.group_basis` after
    the noisy basis change: ``P(o) = 2**-S Σ_A (-1)^{|o ∧ A|} <Z_A>`` with
    ``<Z_A> = readout_damping(B_A) Tr(ρ_t B_A)``, ``B_A`` the basis letters on the subset ``A``."""
    z = torch.as_tensor(z)
    vectors = noisy_task_pauli_vectors(head, z.double() if z.is_floating_point() else z, p, granularity)
    out = []
    for vec, groups in zip(vectors, shots_mod.task_groups(head.config)):
        vec = vec.cpu().numpy()
        task = []
        for words in groups:
            basis = shots_mod.group_basis(words)
            index, walsh = _setting_strings(basis)
            factors = np.array(
                [
                    readout_damping(
                        "".join(c if (a >> (len(basis) - 1 - q)) & 1 else "I" for q, c in enumerate(basis)), p, granularity
                    )
                    for a in range(2 ** len(basis))
                ]
            )
            probs = ((vec[:, index] * factors) @ walsh.T / 2 ** len(basis)).clip(min=0.0)
            task.append(probs / probs.sum(axis=1, keepdims=True))
        out.append(task)
    return out


def noisy_sample_expvals(
    head: QMTLHead, z, p: float, shots_per_setting: int, seed: int | np.random.Generator, granularity: str = "native"
) -> torch.Tensor:
    """§6.3 finite-shot readout: ``shots_per_setting`` outcomes of every setting of every task drawn
    exactly from :func:`noisy_measurement_probabilities` and turned into estimates by
    :mod:`qmtl_utils.quantum.shots` (same sampler, same order of draws as
    :func:`~qmtl_utils.quantum.shots.sample_expvals`; ``seed`` seeds a ``numpy`` Generator, so a seed gives
    the same numbers). ``(N, Σ r_t)`` float64 in ``head.expectation_values`` order."""
    probabilities = noisy_measurement_probabilities(head, z, p, granularity)
    rng = np.random.default_rng(seed)
    return torch.from_numpy(shots_mod._estimate(head.config, probabilities, shots_per_setting, rng))
