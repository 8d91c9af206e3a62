"""The three multi-task heads compared in the paper, as ``torch.nn.Module`` s.

Every head maps a batch of shared features ``Z`` of shape ``(batch, d)`` to a list with one
logit tensor ``(batch, r_t)`` per task:

* :class:`QMTLHead` — the proposed quantum head (§4.1, Eqs. (2)-(5));
* :class:`ClassicalHeads` — one linear layer per task (§4.2, Eq. (6));
* :class:`HQNNHead` — the hybrid baseline of Phukan et al. 2024 (Appendix B).

The quantum heads run on the fast simulator (``backend="fast"``, default) or on PennyLane's
``default.qubit`` (``backend="pennylane"``, the reference); both give the same numbers and
the same gradients (tests/test_simulator_parity.py). :class:`QMTLHead` also runs as an exact
matrix-product state (``backend="mps"``, :mod:`qmtl_utils.quantum.mps`; tests/test_mps.py), linear in Q.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.quantum.statevector import hqnn_entangler, hqnn_expvals, qmtl_expvals


def _check_width(z: torch.Tensor, d: int, head: str) -> None:
    if z.ndim != 2 or z.shape[1] != d:
        raise ValueError(
            f"{head} expects features of shape (batch, {d}); got {tuple(z.shape)}. Project the backbone output to d = {d} first."
        )


def _split(flat: torch.Tensor, sizes: Sequence[int]) -> list[torch.Tensor]:
    return list(torch.split(flat, list(sizes), dim=1))


class QMTLHead(nn.Module):
    """The QMTL head: shared encoder + task sub-circuits + multi-observable readout (§4.1).

    Trainable parameters: ``encoder_weights`` ``(L, Q)`` (Eq. (9)), one ``(L_h, S_t, 3)`` tensor per
    task (Eq. (10) with ``k_θ = 3``), plus the optional output calibration (one scale per
    classification task, ``(β, γ)`` per regression task).

    Taught in: 02_heads, "The QMTL circuit, written out"
    """

    def __init__(self, config: QMTLConfig, backend: str = "fast"):
        super().__init__()
        if backend not in ("fast", "mps", "pennylane"):
            raise ValueError(f"backend must be 'fast', 'mps' or 'pennylane', got {backend!r}")
        self.config, self.backend = config, backend
        self.encoder_weights = nn.Parameter(torch.empty(config.n_layers, config.n_qubits))
        self.task_weights = nn.ParameterList(nn.Parameter(torch.empty(config.head_layers, s, 3)) for s in config.task_qubits)
        self.classification = [k != "regression" for k in config.task_kinds]
        n_scales = sum(self.classification) if config.output_scale else 0
        if n_scales and config.output_scale is True:  # learnable, init 1.0
            self.output_scales = nn.Parameter(torch.ones(n_scales))
        elif n_scales:  # a fixed factor (an open choice; not a parameter)
            self.register_buffer("output_scales", torch.full((n_scales,), float(config.output_scale)))
        else:
            self.output_scales = None
        n_reg = config.task_kinds.count("regression")
        self.affine = nn.Parameter(torch.tensor([[0.5, 1.0]] * n_reg)) if n_reg else None
        self.reset_parameters()
        self._qnode = None

    def reset_parameters(self) -> None:
        """Angles uniform in [0, 2π) (seed torch first for reproducibility)."""
        nn.init.uniform_(self.encoder_weights, 0.0, 2 * math.pi)
        for w in self.task_weights:
            nn.init.uniform_(w, 0.0, 2 * math.pi)

    def expectation_values(self, z: torch.Tensor) -> torch.Tensor:
        """Raw task observables, Eq. (5): ``(batch, Σ r_t)`` in [-1, 1].

        Taught in: 02_heads, "The QMTL circuit, written out"
        """
        _check_width(z, self.config.d, "QMTLHead")
        if self.backend == "pennylane":
            return self._pennylane_expvals(z)
        expvals = qmtl_expvals
        if self.backend == "mps":
            from qmtl_utils.quantum.mps import (
                qmtl_expvals_mps as expvals,  # imported lazily: only this backend needs it
            )
        return expvals(z, self.encoder_weights.to(z.dtype), [w.to(z.dtype) for w in self.task_weights], self.config)

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        return self.outputs_from_expvals(self.expectation_values(z))

    def outputs_from_expvals(self, expvals: torch.Tensor) -> list[torch.Tensor]:
        """Per-task outputs from the raw observables ``(batch, Σ r_t)``: split by task, times the
        learnable logit scale (if any), ``β + γ·z`` for regression tasks. Lets expectation values
        estimated elsewhere (shots, noisy simulators, hardware) go through the same head."""
        outputs = _split(torch.as_tensor(expvals), self.config.task_outputs)
        scale_i = reg_i = 0
        for t, is_classification in enumerate(self.classification):
            if is_classification and self.output_scales is not None:
                outputs[t] = outputs[t] * self.output_scales[scale_i]
                scale_i += 1
            elif not is_classification:
                beta, gamma = self.affine[reg_i]
                outputs[t] = beta + gamma * outputs[t]
                reg_i += 1
        return outputs

    def qnode(self, diff_method: str = "backprop", device=None):
        """The PennyLane reference QNode of this head's circuit (for drawing and checks)."""
        from qmtl_utils.quantum.pennylane_circuits import make_qnode, qmtl_circuit

        return make_qnode(qmtl_circuit(self.config), self.config.n_qubits, diff_method, device)

    def _pennylane_expvals(self, z: torch.Tensor) -> torch.Tensor:
        if self._qnode is None:
            self._qnode = self.qnode()
        result = self._qnode(z, self.encoder_weights.to(z.dtype), *[w.to(z.dtype) for w in self.task_weights])
        return torch.stack(list(result), dim=-1).to(z.dtype)


class ClassicalHeads(nn.Module):
    """One linear layer per task on the shared ``d``-dimensional features (Eq. (6)).

    Taught in: 02_heads, "The baselines"
    """

    def __init__(self, d: int, task_outputs: Sequence[int]):
        super().__init__()
        self.d, self.task_outputs = d, tuple(task_outputs)
        self.heads = nn.ModuleList(nn.Linear(d, r) for r in self.task_outputs)

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        _check_width(z, self.d, "ClassicalHeads")
        return [head(z) for head in self.heads]


class HQNNHead(nn.Module):
    """HQNN baseline (Phukan et al. 2024; Appendix B): Linear(d→3) → Q-qubit circuit with the 3
    values as its angles, ansatz repeated ``n_repeats`` times → ⟨Z⟩ per qubit → one learnable
    scale → one Linear(Q→r_t) per task. The circuit is :func:`qmtl_utils.quantum.pennylane_circuits.hqnn_circuit`.

    Taught in: 02_heads, "The baselines"
    """

    def __init__(
        self,
        d: int,
        n_qubits: int,
        task_outputs: Sequence[int],
        n_repeats: int = 3,
        backend: str = "fast",
        ansatz: str = "ry_ring",
    ):
        super().__init__()
        if backend not in ("fast", "pennylane"):
            raise ValueError(f"backend must be 'fast' or 'pennylane', got {backend!r}")
        hqnn_entangler(ansatz, n_qubits)  # validates the name
        self.d, self.n_qubits, self.n_repeats, self.backend = d, n_qubits, n_repeats, backend
        self.ansatz = ansatz
        self.task_outputs = tuple(task_outputs)
        self.projection = nn.Linear(d, 3)
        self.circuit_weights = nn.Parameter(torch.empty(n_repeats, 0 if ansatz == "ring" else n_qubits))
        self.output_scale = nn.Parameter(torch.ones(1))
        self.heads = nn.ModuleList(nn.Linear(n_qubits, r) for r in self.task_outputs)
        nn.init.uniform_(self.circuit_weights, 0.0, 2 * math.pi)
        self._qnode = None

    def expectation_values(self, z: torch.Tensor) -> torch.Tensor:
        """⟨Z_q⟩ on every qubit: ``(batch, Q)``."""
        _check_width(z, self.d, "HQNNHead")
        angles, weights = self.projection(z), self.circuit_weights.to(z.dtype)
        if self.backend == "pennylane":
            if self._qnode is None:
                self._qnode = self.qnode()
            return torch.stack(list(self._qnode(angles, weights)), dim=-1).to(z.dtype)
        return hqnn_expvals(angles, weights, self.ansatz, self.n_qubits)

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        quantum = self.output_scale * self.expectation_values(z)
        return [head(quantum) for head in self.heads]

    def qnode(self, diff_method: str = "backprop", device=None):
        from qmtl_utils.quantum.pennylane_circuits import hqnn_circuit, make_qnode

        return make_qnode(hqnn_circuit(self.n_qubits, self.n_repeats, self.ansatz), self.n_qubits, diff_method, device)
