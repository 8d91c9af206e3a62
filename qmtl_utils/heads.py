"""The three multi-task heads compared in the paper, as ``torch.nn.Module`` s.

Every head maps a batch of shared features ``Z`` of shape ``(batch, d)`` to a list with one
logit tensor ``(batch, r_t)`` per task:

* :class:`QMTLHead` — the proposed quantum head (§4.1, Eqs. 2-5);
* :class:`ClassicalHeads` — one linear layer per task (§4.2, Eq. 6);
* :class:`HQNNHead` — the hybrid baseline of Phukan et al. 2024 (Appendix B).

The quantum heads run on the fast simulator (``backend="fast"``, default) or on PennyLane's
``default.qubit`` (``backend="pennylane"``, the reference); both give the same numbers and
the same gradients (tests/test_simulator_parity.py). :class:`QMTLHead` also runs as an exact
matrix-product state (``backend="mps"``, :mod:`qmtl_utils.mps`; tests/test_mps.py), linear in Q.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from . import simulator as sim
from .observables import default_observables, default_task_qubits, validate_words

TASK_KINDS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class QMTLConfig:
    """Architecture of a QMTL head; every field named after the paper's symbol.

    Args:
        n_qubits: ``Q``, width of the register.
        n_layers: ``L``, encoder depth; the head takes ``d = Q·L`` features (Eq. 12).
        task_outputs: ``r_t``, logits per task (1 for binary and regression tasks).
        task_kinds: ``"binary"``, ``"multiclass"`` or ``"regression"`` per task; regression
            tasks get the affine calibration ``β + γ·z`` of Appendix B.1 (β=0.5, γ=1 at start).
        task_qubits: ``S_t`` per task; default :func:`~qmtl_utils.observables.default_task_qubits`.
        task_wires: explicit qubits of each task; default consecutive blocks in task order.
        observables: Pauli words per task; default :func:`~qmtl_utils.observables.default_observables`.
        head_layers: ``L_h``, ``StronglyEntanglingLayers`` depth of every task block.
        entangle: keep the encoder's CNOT ladder (``False``: the §6.2 ablation).
        output_scale: one learnable logit scale per classification task (init 1.0), the
            "learnable temperature" of Appendix B.2.
    """

    n_qubits: int
    n_layers: int
    task_outputs: tuple[int, ...]
    task_kinds: tuple[str, ...] | None = None
    task_qubits: tuple[int, ...] | None = None
    task_wires: tuple[tuple[int, ...], ...] | None = None
    observables: tuple[tuple[str, ...], ...] | None = None
    head_layers: int = 1
    entangle: bool = True
    output_scale: bool = False
    k_theta: int = field(default=3, init=False)  # Rot has 3 angles per qubit per layer

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        outputs = tuple(int(r) for r in self.task_outputs)
        set_("task_outputs", outputs)
        kinds = self.task_kinds or tuple("binary" if r == 1 else "multiclass" for r in outputs)
        set_("task_kinds", tuple(kinds))
        if self.task_wires is not None:
            wires = tuple(tuple(int(w) for w in ws) for ws in self.task_wires)
            qubits = tuple(len(ws) for ws in wires)
        else:
            qubits = tuple(self.task_qubits or (default_task_qubits(r) for r in outputs))
            starts = [sum(qubits[:t]) for t in range(len(qubits))]
            wires = tuple(tuple(range(s, s + n)) for s, n in zip(starts, qubits))
        set_("task_qubits", qubits)
        set_("task_wires", wires)
        words = self.observables or tuple(default_observables(r, s) for r, s in zip(outputs, qubits))
        set_("observables", tuple(tuple(ws) for ws in words))
        self._validate()

    def _validate(self):
        T = len(self.task_outputs)
        if self.n_qubits < 1 or self.n_layers < 1 or self.head_layers < 1:
            raise ValueError("n_qubits, n_layers and head_layers must be positive")
        for name in ("task_kinds", "task_qubits", "task_wires", "observables"):
            if len(getattr(self, name)) != T:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries for {T} tasks")
        for kind in self.task_kinds:
            if kind not in TASK_KINDS:
                raise ValueError(f"unknown task kind {kind!r}; use one of {TASK_KINDS}")
        used = [w for ws in self.task_wires for w in ws]
        if len(set(used)) != len(used) or any(not 0 <= w < self.n_qubits for w in used):
            raise ValueError(
                f"task sub-registers must be disjoint subsets of the {self.n_qubits} qubits; "
                f"got {self.task_wires} (S_t = {self.task_qubits}, sum {len(used)})"
            )
        for t, (words, wires, r) in enumerate(zip(self.observables, self.task_wires, self.task_outputs)):
            validate_words(words, len(wires))
            if len(words) != r:
                raise ValueError(f"task {t}: {len(words)} observables for {r} outputs")

    @property
    def d(self) -> int:
        """Input width ``d = Q·L`` (Eq. 12)."""
        return self.n_qubits * self.n_layers

    @property
    def n_tasks(self) -> int:
        return len(self.task_outputs)


def _check_width(z: torch.Tensor, d: int, head: str) -> None:
    if z.ndim != 2 or z.shape[1] != d:
        raise ValueError(
            f"{head} expects features of shape (batch, {d}); got {tuple(z.shape)}. "
            f"Project the backbone output to d = {d} first."
        )


def _split(flat: torch.Tensor, sizes: Sequence[int]) -> list[torch.Tensor]:
    return list(torch.split(flat, list(sizes), dim=1))


class QMTLHead(nn.Module):
    """The QMTL head: shared encoder + task sub-circuits + multi-observable readout (§4.1).

    Trainable parameters: ``encoder_weights`` ``(L, Q)`` (Eq. 9), one ``(L_h, S_t, 3)`` tensor per
    task (Eq. 10 with ``k_θ = 3``), plus the optional output calibration (one scale per
    classification task, ``(β, γ)`` per regression task).
    """

    def __init__(self, config: QMTLConfig, backend: str = "fast"):
        super().__init__()
        if backend not in ("fast", "mps", "pennylane"):
            raise ValueError(f"backend must be 'fast', 'mps' or 'pennylane', got {backend!r}")
        self.config, self.backend = config, backend
        self.encoder_weights = nn.Parameter(torch.empty(config.n_layers, config.n_qubits))
        self.task_weights = nn.ParameterList(
            nn.Parameter(torch.empty(config.head_layers, s, 3)) for s in config.task_qubits
        )
        self.classification = [k != "regression" for k in config.task_kinds]
        n_scales = sum(self.classification) if config.output_scale else 0
        self.output_scales = nn.Parameter(torch.ones(n_scales)) if n_scales else None
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
        """Raw task observables, Eq. (5): ``(batch, Σ r_t)`` in [-1, 1]."""
        _check_width(z, self.config.d, "QMTLHead")
        if self.backend == "pennylane":
            return self._pennylane_expvals(z)
        expvals = qmtl_expvals
        if self.backend == "mps":
            from .mps import qmtl_expvals_mps as expvals  # imported lazily: no import cycle
        return expvals(z, self.encoder_weights.to(z.dtype),
                       [w.to(z.dtype) for w in self.task_weights], self.config)

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
        from .circuits import make_qnode, qmtl_circuit

        return make_qnode(qmtl_circuit(self.config), self.config.n_qubits, diff_method, device)

    def _pennylane_expvals(self, z: torch.Tensor) -> torch.Tensor:
        if self._qnode is None:
            self._qnode = self.qnode()
        result = self._qnode(z, self.encoder_weights.to(z.dtype), *[w.to(z.dtype) for w in self.task_weights])
        return torch.stack(list(result), dim=-1).to(z.dtype)


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
    output of the circuit as Eqs. (2)-(3) define it.
    """
    batch, Q = z.shape[0], config.n_qubits
    features = z.reshape(batch, config.n_layers, Q)
    half = max(Q // 2, 1)
    hadamard_1 = sim.hadamard(1, z.dtype, z.device)
    swapped_ladder = [(target, control) for control, target in sim.ladder_pairs(Q)]
    ladder = sim.cnot_permutation(Q, swapped_ladder, z.device) if config.entangle and Q > 1 else None
    rows, cols = 2**half, 2 ** (Q - half)
    # the shared rotations leave the state transposed; one gather undoes that and applies the ladder
    no_ladder = torch.arange(2**Q, device=z.device)
    ladder_t = sim.transposed_permutation(no_ladder if ladder is None else ladder, rows, cols)
    for layer in range(config.n_layers):  # Eq. (3): U_param,ℓ U_enc,ℓ
        theta = encoder_weights[layer]
        rotations = hadamard_1 @ sim.ry(theta) @ sim.rz(theta) @ hadamard_1  # (Q, 2, 2)
        if layer == 0:  # RZ(z)|0…0> is a global phase: the state is a product of first columns
            state = sim.product_state(rotations[:, :, 0].unsqueeze(0))
            if ladder is not None:  # one sample's worth of work, shared by the batch
                state = sim.permute_basis(state, ladder)
            state = state.expand(batch, -1)
            continue
        left = sim.kron_shared(list(rotations[:half]))
        right = sim.kron_shared(list(rotations[half:])) if Q > 1 else torch.ones_like(left[:1, :1])
        state = sim.phase_rotate_permute(state, sim.z_phases(features[:, layer]), left, right, ladder_t)
    return state


def qmtl_expvals(z, encoder_weights, task_weights, config: QMTLConfig) -> torch.Tensor:
    """Fast exact QMTL readout, Eqs. (2)-(5): ``(batch, Σ r_t)``, the same numbers as
    :func:`qmtl_utils.circuits.qmtl_circuit` (tests/test_simulator_parity.py)."""
    state = qmtl_encoder_state(z, encoder_weights, config)
    # Stage 2, Eqs. (4)-(5): tasks with the same block size and observables are done together
    readouts = {}
    for tasks in _task_groups(config):
        words, n_wires = config.observables[tasks[0]], config.task_qubits[tasks[0]]
        unitaries = sim.sel_unitary(torch.stack([task_weights[t] for t in tasks]))
        observables = sim.rotated_observables(words, unitaries @ sim.hadamard(n_wires, z.dtype, z.device))
        rho = torch.stack([sim.reduced_density_matrix(state, config.task_wires[t], config.n_qubits) for t in tasks])
        values = torch.einsum("gbij,gkji->gbk", rho, observables).real
        readouts.update(zip(tasks, values))
    return torch.cat([readouts[t] for t in range(config.n_tasks)], dim=1)


def qmtl_task_density_matrices(z, encoder_weights, task_weights, config: QMTLConfig) -> list[torch.Tensor]:
    """State of each task register after its sub-circuit (Eq. 4), in the computational basis:
    one ``(batch, 2**S_t, 2**S_t)`` density matrix per task. ``tr(rho_t O)`` is Eq. (5); finite-shot
    readout samples from its diagonal in each observable's measurement basis."""
    state = qmtl_encoder_state(z, encoder_weights, config)
    out = []
    for t, (weights, wires) in enumerate(zip(task_weights, config.task_wires)):
        u = sim.sel_unitary(weights.unsqueeze(0))[0] @ sim.hadamard(len(wires), z.dtype, z.device)
        rho = sim.reduced_density_matrix(state, wires, config.n_qubits)
        out.append(u @ rho @ u.mH)
    return out


def _task_groups(config: QMTLConfig) -> list[list[int]]:
    """Task indices grouped by (sub-register size, observables), in order of first appearance."""
    groups: dict[tuple, list[int]] = {}
    for t, key in enumerate(zip(config.task_qubits, config.observables)):
        groups.setdefault(key, []).append(t)
    return list(groups.values())


class ClassicalHeads(nn.Module):
    """One linear layer per task on the shared ``d``-dimensional features (Eq. 6)."""

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
    scale → one Linear(Q→r_t) per task. The circuit is :func:`qmtl_utils.circuits.hqnn_circuit`.
    """

    def __init__(self, d: int, n_qubits: int, task_outputs: Sequence[int], n_repeats: int = 3,
                 backend: str = "fast"):
        super().__init__()
        if backend not in ("fast", "pennylane"):
            raise ValueError(f"backend must be 'fast' or 'pennylane', got {backend!r}")
        self.d, self.n_qubits, self.n_repeats, self.backend = d, n_qubits, n_repeats, backend
        self.task_outputs = tuple(task_outputs)
        self.projection = nn.Linear(d, 3)
        self.circuit_weights = nn.Parameter(torch.empty(n_repeats, n_qubits))
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
        return hqnn_expvals(angles, weights)

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        quantum = self.output_scale * self.expectation_values(z)
        return [head(quantum) for head in self.heads]

    def qnode(self, diff_method: str = "backprop", device=None):
        from .circuits import hqnn_circuit, make_qnode

        return make_qnode(hqnn_circuit(self.n_qubits, self.n_repeats), self.n_qubits, diff_method, device)


def hqnn_expvals(angles: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Fast exact HQNN readout (same result as :func:`qmtl_utils.circuits.hqnn_circuit`)."""
    batch, (n_repeats, Q) = angles.shape[0], weights.shape
    state = sim.zero_state(batch, Q, angles.dtype, angles.device)
    encode = sim.rz(angles[:, 2]) @ sim.ry(angles[:, 1]) @ sim.rx(angles[:, 0])  # (batch, 2, 2)
    ring = sim.cnot_permutation(Q, sim.ring_pairs(Q), angles.device) if Q > 1 else None
    for repeat in range(n_repeats):
        gates = sim.ry(weights[repeat]).unsqueeze(0) @ encode.unsqueeze(1)  # (batch, Q, 2, 2)
        state = sim.apply_single_qubit_layer(state, gates)
        if ring is not None:
            state = sim.permute_basis(state, ring)
    return sim.expval_z_all(state, Q)
