"""The QMTL head (§4.1, Eqs. (2)-(5)) as a Qiskit circuit, for the noise (§6.3) and hardware (§7) runs.

The PennyLane circuit of :func:`qmtl_utils.quantum.pennylane_circuits.qmtl_circuit` is the specification; this is
the same gate sequence with PennyLane wire ``w`` on Qiskit qubit ``w``. The ``d = Q·L`` features
are a ``ParameterVector`` (one circuit, transpiled once, bound per sample); the trained weights
are bound as numbers. Qiskit labels are little-endian (the last character acts on qubit 0), so
observables are built from (Pauli, qubit) pairs, never from reversed strings by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import SparsePauliOp

from qmtl_utils.quantum.statevector import ladder_pairs, sel_pairs, sel_ranges

if TYPE_CHECKING:  # annotations only: the head lives in a higher layer (models)
    from qmtl_utils.models.heads import QMTLHead


def to_numpy(x) -> np.ndarray:
    """A torch tensor or array-like as a float64 numpy array."""
    return x.detach().cpu().double().numpy() if hasattr(x, "detach") else np.asarray(x, dtype=float)


def _strongly_entangling(qc: QuantumCircuit, weights: np.ndarray, wires: tuple[int, ...]) -> None:
    """``qml.StronglyEntanglingLayers(weights, wires)`` decomposed as PennyLane does: per layer
    ``Rot(φ,θ,ω) = RZ(ω)RY(θ)RZ(φ)`` on each wire, then the CNOT ring of range
    ``(ℓ mod (S-1)) + 1`` (no CNOTs on one wire)."""
    n_layers, n_wires = weights.shape[:2]
    for layer, layer_range in enumerate(sel_ranges(n_layers, n_wires)):
        for local, wire in enumerate(wires):
            phi, theta, omega = weights[layer, local]
            qc.rz(phi, wire)
            qc.ry(theta, wire)
            qc.rz(omega, wire)
        for control, target in sel_pairs(n_wires, layer_range):
            qc.cx(wires[control], wires[target])


def qmtl_qiskit_circuit(head: QMTLHead) -> QuantumCircuit:
    """The head's circuit with a ``ParameterVector("z", d)`` input and the trained weights bound.

    Parameters sort as ``z[0] … z[d-1]`` (Qiskit orders a ParameterVector by index), so a
    ``(N, d)`` feature matrix is directly the parameter-value array of an Estimator PUB.

    Taught in: 05_noise, "The head as a Qiskit circuit"
    """
    config = head.config
    Q = config.n_qubits
    z = ParameterVector("z", config.d)
    encoder = to_numpy(head.encoder_weights)
    qc = QuantumCircuit(Q, name="qmtl_head")
    qc.h(range(Q))
    if config.angle_map != "identity":
        raise NotImplementedError(
            f"the Qiskit circuit binds raw features; angle_map={config.angle_map!r} "
            "is only simulated by the fast and PennyLane backends"
        )
    for layer in range(config.n_layers):  # Eqs. (2)-(3)
        for wire in range(Q):
            if config.encoding_order == "operator":
                qc.rx(z[layer * Q + wire], wire)
            qc.rz(encoder[layer, wire], wire)
            qc.ry(encoder[layer, wire], wire)
        if config.entangle:
            for control, target in ladder_pairs(Q):
                qc.cx(control, target)
        if config.encoding_order == "written":
            for wire in range(Q):
                qc.rx(z[layer * Q + wire], wire)
    for weights, wires in zip(head.task_weights, config.task_wires):  # Eq. (4)
        _strongly_entangling(qc, to_numpy(weights), wires)
    return qc


def pauli_op(word: str, wires: tuple[int, ...], n_qubits: int) -> SparsePauliOp:
    """``SparsePauliOp`` of a task word on the full register: ``word[i]`` acts on ``wires[i]``."""
    terms = [(c, w) for c, w in zip(word, wires) if c != "I"]
    paulis, qubits = "".join(c for c, _ in terms), [w for _, w in terms]
    return SparsePauliOp.from_sparse_list([(paulis, qubits, 1.0)], num_qubits=n_qubits)


def qmtl_observables(config) -> list[SparsePauliOp]:
    """Eq. (5) readout as full-register operators, in the order of ``head.expectation_values``."""
    return [
        pauli_op(word, wires, config.n_qubits) for words, wires in zip(config.observables, config.task_wires) for word in words
    ]


def statevector_expectation_values(head: QMTLHead, z) -> np.ndarray:
    """Exact ``(N, Σ r_t)`` readout with ``qiskit.quantum_info.Statevector`` (a slow reference).

    Taught in: 05_noise, "The head as a Qiskit circuit"
    """
    from qiskit.quantum_info import Statevector

    circuit, observables = qmtl_qiskit_circuit(head), qmtl_observables(head.config)
    out = []
    for row in to_numpy(z):
        state = Statevector(circuit.assign_parameters(row))
        out.append([state.expectation_value(op).real for op in observables])
    return np.array(out)
