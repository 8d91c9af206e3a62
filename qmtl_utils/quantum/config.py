"""The architecture of a QMTL head (§4.1): :class:`QMTLConfig`, read by every simulator of the
circuit (state vector, MPS, PennyLane, Qiskit) and by the ``nn.Module`` in
:mod:`qmtl_utils.models.heads`. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qmtl_utils.quantum.observables import default_observables, default_task_qubits, validate_words

TASK_KINDS = ("binary", "multiclass", "regression")
# How Eq. (3)'s product is read (an open choice of the paper; qmtl_utils.studies.open_choices):
# "operator" — each factor U_param,l U_enc,l as an operator product, so the data layer RX(z) acts
#              first (the literal reading, the default); "written" — the factors in the order they
#              are written, left to right, so the trainable rotations and the CNOT ladder come
#              before each data layer and the first data layer no longer meets |+>.
ENCODING_ORDERS = ("operator", "written")
# What the head does to the backbone's features before they become angles: "identity" (the
# paper's unbounded projection, the default) or "pi_tanh" (angles bounded to (-pi, pi)).
ANGLE_MAPS = ("identity", "pi_tanh")


@dataclass(frozen=True)
class QMTLConfig:
    """Architecture of a QMTL head; every field named after the paper's symbol.

    Args:
        n_qubits: ``Q``, width of the register.
        n_layers: ``L``, encoder depth; the head takes ``d = Q·L`` features (Eq. (12)).
        task_outputs: ``r_t``, logits per task (1 for binary and regression tasks).
        task_kinds: ``"binary"``, ``"multiclass"`` or ``"regression"`` per task; regression
            tasks get the affine calibration ``β + γ·z`` of Appendix B.1 (β=0.5, γ=1 at start).
        task_qubits: ``S_t`` per task; default :func:`~qmtl_utils.quantum.observables.default_task_qubits`.
        task_wires: explicit qubits of each task; default consecutive blocks in task order.
        observables: Pauli words per task; default :func:`~qmtl_utils.quantum.observables.default_observables`.
        head_layers: ``L_h``, ``StronglyEntanglingLayers`` depth of every task block.
        entangle: keep the encoder's CNOT ladder (``False``: the §6.2 ablation).
        output_scale: ``True``: one learnable logit scale per classification task (init 1.0), the
            "learnable temperature" of Appendix B.2; a number: that fixed factor (no parameter);
            ``False``: the raw expectation values.
        encoding_order: how Eq. (3) is read, one of :data:`ENCODING_ORDERS` (default the literal
            operator product).
        angle_map: one of :data:`ANGLE_MAPS`, applied to ``Z`` before Eq. (3).

    Taught in: 02_heads, "The QMTL circuit, written out"
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
    output_scale: bool | float = False
    encoding_order: str = "operator"
    angle_map: str = "identity"
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
        if self.encoding_order not in ENCODING_ORDERS:
            raise ValueError(f"unknown encoding_order {self.encoding_order!r}; use one of {ENCODING_ORDERS}")
        if self.angle_map not in ANGLE_MAPS:
            raise ValueError(f"unknown angle_map {self.angle_map!r}; use one of {ANGLE_MAPS}")
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
        """Input width ``d = Q·L`` (Eq. (12)).

        Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
        """
        return self.n_qubits * self.n_layers

    @property
    def n_tasks(self) -> int:
        return len(self.task_outputs)


def require_literal_encoding(config: QMTLConfig, where: str) -> None:
    """Raise for an open-choice variant that ``where`` (a simulator) does not implement."""
    if config.encoding_order != "operator" or config.angle_map != "identity":
        raise NotImplementedError(
            f"{where} simulates the literal reading of Eq. (3) only (encoding_order='operator', "
            f"angle_map='identity'); this head has encoding_order={config.encoding_order!r}, "
            f"angle_map={config.angle_map!r}: use the fast or PennyLane backend"
        )


def same_block_tasks(config: QMTLConfig, relative_wires: bool = False) -> list[list[int]]:
    """Task indices whose blocks can be simulated as one batch, in order of first appearance:
    grouped by (block size ``S_t``, observables), or with ``relative_wires`` by (wire layout
    relative to the block's first wire, observables), which the MPS contraction needs."""
    groups: dict[tuple, list[int]] = {}
    for t, (wires, words) in enumerate(zip(config.task_wires, config.observables)):
        layout = tuple(w - min(wires) for w in wires) if relative_wires else len(wires)
        groups.setdefault((layout, words), []).append(t)
    return list(groups.values())
