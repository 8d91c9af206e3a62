"""Exact matrix-product-state (MPS) simulation of the QMTL head (Eqs. (2)-(5)), linear in ``Q``.

Why an MPS is exact here. Stage 1 (Eqs. (2)-(3)) alternates single-qubit gates with the CNOT ladder
CNOT(0,1), CNOT(1,2), …, CNOT(Q-2,Q-1). Applied in this order the ladder maps ``|x_0 x_1 …>`` to
``|y_0 y_1 …>`` with prefix parities ``y_i = x_0 ⊕ … ⊕ x_i``: all a site needs to know about the
sites to its left is one bit, ``y_{i-1}``. The ladder is therefore a matrix-product operator of
bond dimension 2, ``W[p, y, x, p'] = δ(y, p ⊕ x) δ(p', y)`` (``p = 0`` at the left edge, ``p'``
summed at the right edge). Single-qubit gates act site by site and keep bond dimensions, and the
ladder doubles them. Starting from the product state ``H^{⊗Q}|0>`` (bond dimension 1), the
encoder state after ``L`` layers is *exactly* an MPS of bond dimension ``χ ≤ 2^L``: nothing is
truncated, no SVD is taken. Without the ladder (``entangle=False``, §6.2) ``χ = 1``.

Readout (Eqs. (4)-(5)). A task's ``StronglyEntanglingLayers`` block acts on its own ``S_t`` qubits,
so ``<O> = Re tr(rho_t U_t^† O U_t)`` needs only the task's reduced density matrix ``rho_t``. It
is contracted from the MPS between the left and right norm environments (no canonical form
needed); sites between non-contiguous task wires are traced on the way.

Cost, batch ``B``: ``O(B·Q·χ^3)`` time (the norm environments) and ``O(B·Q·χ^2)`` memory with
``χ = 2^L``, plus ``O(B·(2^{S_t}·χ^3 + 4^{S_t}·χ^2))`` per contiguous task — linear in ``Q``, against
``O(B·L·Q·2^Q)`` for the state vector (:mod:`qmtl_utils.quantum.statevector`). At the paper's depths
(``L = 3``, ``χ = 8``) the QMTL head is thus classically simulable, exactly, in time linear in the
number of qubits; only the depth ``L`` makes it exponentially harder.
"""

from __future__ import annotations

from itertools import groupby
from typing import NamedTuple, Sequence

import torch

from qmtl_utils.quantum import statevector as sim
from qmtl_utils.quantum.config import require_literal_encoding, same_block_tasks


class EncoderMPS(NamedTuple):
    """Encoder state ``psi(x) = left^T A_0[x_0] A_1[x_1] … A_{Q-1}[x_{Q-1}] right`` per sample.

    ``tensors``: ``(batch, Q, χ, 2, χ)`` complex, ``A_i[a, x, c]``; every bond is padded to the same
    ``χ`` (the edge vectors ``left``, ``right`` of shape ``(χ,)`` fix the outer bonds), so each layer
    acts on all sites in one batched operation.
    """

    tensors: torch.Tensor
    left: torch.Tensor
    right: torch.Tensor


def max_bond_dimension(config) -> int:
    """Bond dimension ``χ`` of the encoder MPS: ``2^L`` with the CNOT ladder (``Q > 1``), else 1.

    Taught in: 04a_task_scaling_and_shots, "Beyond the state vector: an exact matrix product state"
    """
    return 2**config.n_layers if config.entangle and config.n_qubits > 1 else 1


def qmtl_encoder_mps(z, encoder_weights, config) -> EncoderMPS:
    """The shared encoder state of Eqs. (2)-(3) as an exact MPS of bond dimension :func:`max_bond_dimension`.

    Taught in: 04a_task_scaling_and_shots, "Beyond the state vector: an exact matrix product state"
    """
    require_literal_encoding(config, "the MPS backend")
    batch, Q = z.shape[0], config.n_qubits
    cdtype = sim.complex_dtype(z.dtype)
    features = z.reshape(batch, config.n_layers, Q)
    tensors = torch.full((batch, Q, 1, 2, 1), 2**-0.5, dtype=cdtype, device=z.device)  # H|0> = |+>
    left = right = torch.ones(1, dtype=cdtype, device=z.device)
    for layer in range(config.n_layers):  # Eq. (3): U_param,ℓ U_enc,ℓ
        theta = encoder_weights[layer]
        gates = sim.ry(theta) @ sim.rz(theta) @ sim.rx(features[:, layer])  # (batch, Q, 2, 2)
        tensors = torch.einsum("bqij,bqajc->bqaic", gates, tensors)
        if max_bond_dimension(config) > 1:
            tensors, left, right = _apply_ladder(tensors, left, right)
    return EncoderMPS(tensors, left, right)


def _apply_ladder(tensors, left, right):
    """The CNOT ladder as the MPO ``W[p, y, x, p'] = δ(y, p ⊕ x) δ(p', y)``: bond ``a`` becomes ``(a, p)``."""
    batch, Q, chi = tensors.shape[:3]
    shifted = torch.stack((tensors, tensors.flip(3)), dim=3)  # [b, q, a, p, y, c] = A[a, y ⊕ p, c]
    delta = torch.eye(2, dtype=tensors.dtype, device=tensors.device).view(2, 1, 2)  # δ(p', y) on (y, c, p')
    tensors = (shifted.unsqueeze(-1) * delta).reshape(batch, Q, 2 * chi, 2, 2 * chi)
    edge = torch.eye(2, dtype=left.dtype, device=left.device)
    return tensors, torch.kron(left, edge[0]), torch.kron(right, edge.sum(0))


def _left_environments(sites: Sequence[torch.Tensor], left: torch.Tensor, stop: int) -> list[torch.Tensor]:
    """``E_i[b, a, a']`` for ``i ≤ stop``: sites ``0..i-1`` of ``<psi|psi>`` contracted, open bonds
    ``a`` (ket) and ``a'`` (bra)."""
    batch, chi = sites[0].shape[:2]
    envs = [torch.outer(left, left.conj()).expand(batch, chi, chi)]
    for a in sites[:stop]:
        half = (envs[-1].mT @ a.reshape(batch, chi, 2 * chi)).reshape(batch, 2 * chi, chi)  # [(a', x), c]
        envs.append(half.mT @ a.reshape(batch, 2 * chi, chi).conj())
    return envs


def _right_environments(sites: Sequence[torch.Tensor], right: torch.Tensor, start: int) -> dict[int, torch.Tensor]:
    """``F_i[b, c, c']``: sites ``i..Q-1`` of ``<psi|psi>`` contracted, for ``start ≤ i ≤ Q``."""
    Q, (batch, chi) = len(sites), sites[0].shape[:2]
    env = torch.outer(right, right.conj()).expand(batch, chi, chi)
    envs = {Q: env}
    for site in range(Q - 1, start - 1, -1):
        a = sites[site]
        half = (a.reshape(batch, 2 * chi, chi) @ env).reshape(batch, chi, 2 * chi)  # [a, (x, c')]
        env = envs[site] = half @ a.reshape(batch, chi, 2 * chi).conj().mT
    return envs


def _ket_chain(sites: Sequence[torch.Tensor]) -> torch.Tensor:
    """``M[b, a, x, c] = (A_0[x_0] A_1[x_1] …)[a, c]`` of ``n`` consecutive sites: ``(batch, χ, 2^n, χ)``."""
    batch, chi = sites[0].shape[:2]
    out = sites[0]
    for a in sites[1:]:
        out = (out.reshape(batch, -1, chi) @ a.reshape(batch, chi, 2 * chi)).reshape(batch, chi, -1, chi)
    return out


def _reduced_density_matrix(span: Sequence[torch.Tensor], left_env, right_env, wires: Sequence[int]) -> torch.Tensor:
    """``rho[b] = tr_{other sites} |psi_b><psi_b|`` on ``wires`` (in that order): ``(batch, 2^S, 2^S)``.

    ``span``: the site tensors from ``min(wires)`` to ``max(wires)``, ``wires`` counted from the
    first of them; ``left_env``, ``right_env``: the environments on either side. Walks the span
    with ``rho[b, x, a, y, a']`` (open qubits ``x``/``y``, open bonds ``a``/``a'``): each run of task
    sites is contracted as one ket block, each site in between is traced, and the right
    environment is absorbed into the last ket block.
    """
    batch, chi = span[0].shape[:2]
    rho = left_env[:, None, :, None, :]
    for is_task, run in groupby(range(len(span)), key=set(wires).__contains__):
        run = list(run)
        if not is_task:
            for site in run:
                a = span[site]
                rho = torch.einsum("bxayd,baic,bdie->bxcye", rho, a, a.conj())
            continue
        bra = _ket_chain(span[run[0] : run[-1] + 1])
        if run[-1] == len(span) - 1:
            ket = (bra.reshape(batch, -1, chi) @ right_env).reshape(bra.shape)
            rho = torch.einsum("bxayd,baic,bdjc->bxiyj", rho, ket, bra.conj())
        else:
            rho = torch.einsum("bxayd,baic,bdje->bxicyje", rho, bra, bra.conj())
            dim = rho.shape[1] * rho.shape[2]
            rho = rho.reshape(batch, dim, chi, dim, chi)
    n, order = len(wires), sorted(wires)
    rho = rho.reshape(batch, 2**n, 2**n)
    if list(wires) == order:
        return rho
    axes = [order.index(w) for w in wires]  # sorted site order -> the task's wire order
    rho = rho.reshape(batch, *[2] * (2 * n)).permute(0, *[1 + i for i in axes], *[1 + n + i for i in axes])
    return rho.reshape(batch, 2**n, 2**n)


def qmtl_expvals_mps(z, encoder_weights, task_weights, config) -> torch.Tensor:
    """Exact QMTL readout, Eqs. (2)-(5), via the encoder MPS: ``(batch, Σ r_t)``, the same numbers as
    :func:`qmtl_utils.quantum.statevector.qmtl_expvals` (tests/test_mps.py) in time and memory linear in ``Q``.

    Taught in: 04a_task_scaling_and_shots, "Beyond the state vector: an exact matrix product state"
    """
    mps = qmtl_encoder_mps(z, encoder_weights, config)
    sites = mps.tensors.unbind(1)  # one (batch, χ, 2, χ) tensor per site: cheap to index and to differentiate
    left_envs = _left_environments(sites, mps.left, max(min(w) for w in config.task_wires))
    right_envs = _right_environments(sites, mps.right, min(max(w) for w in config.task_wires) + 1)
    readouts = {}
    for tasks in same_block_tasks(config, relative_wires=True):  # Eqs. (4)-(5); the tasks of a group are stacked along the batch
        wires = config.task_wires[tasks[0]]
        firsts = [min(config.task_wires[t]) for t in tasks]
        stack = lambda tensors: torch.cat(tensors, dim=0)  # noqa: E731
        span = [stack([sites[f + k] for f in firsts]) for k in range(max(wires) - min(wires) + 1)]
        rho = _reduced_density_matrix(
            span,
            stack([left_envs[f] for f in firsts]),
            stack([right_envs[f + len(span)] for f in firsts]),
            [w - min(wires) for w in wires],
        )
        unitaries = sim.sel_unitary(torch.stack([task_weights[t] for t in tasks]))
        observables = sim.rotated_observables(config.observables[tasks[0]], unitaries)
        rho = rho.reshape(len(tasks), z.shape[0], *rho.shape[1:])
        readouts.update(zip(tasks, torch.einsum("gbij,gkji->gbk", rho, observables).real))
    return torch.cat([readouts[t] for t in range(config.n_tasks)], dim=1)
