"""The heads' circuits written once in PennyLane: the readable reference.

These QNodes are what the heads notebook draws, what the tests compare the fast simulator
(:mod:`qmtl_utils.quantum.statevector`) against, and what a user runs on other PennyLane devices
(``qiskit.aer``, hardware). Inputs may carry a leading batch dimension (parameter broadcasting).
"""

from __future__ import annotations

import math
from typing import Sequence

import pennylane as qml

from qmtl_utils.quantum.statevector import hqnn_entangler, ladder_pairs

_PAULI_OPS = {"X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ}


def pauli_observable(word: str, wires: Sequence[int]):
    """PennyLane observable for a Pauli word on ``wires`` (``"XX"`` on [4, 5] is X4 X5)."""
    factors = [_PAULI_OPS[c](wires[i]) for i, c in enumerate(word) if c != "I"]
    return factors[0] if len(factors) == 1 else qml.prod(*factors)


def qmtl_encoder(inputs, encoder_weights, n_qubits: int, n_layers: int, entangle: bool = True, encoding_order: str = "operator"):
    """Stage 1, Eqs. (2)-(3): shared task-independent encoding of ``d = Q·L`` features.

    ``H^{⊗Q}``, then for each layer ℓ: ``RX(Z_{Qℓ+i})`` on qubit ``i`` (U_enc,ℓ), then
    ``RY(θ_ℓi)·RZ(θ_ℓi)`` with one shared angle per qubit and layer — as an operator product,
    so **RZ acts first, then RY** — then the CNOT ladder CNOT(0,1), CNOT(1,2), … (U_param,ℓ).
    ``entangle=False`` drops every CNOT (the §6.2 ablation). ``encoding_order="written"`` reads
    each factor left to right: U_param,ℓ (rotations, ladder) first, then the data layer.

    Taught in: 02_heads, "The QMTL circuit, written out"
    """

    def data(layer):
        for wire in range(n_qubits):
            qml.RX(inputs[..., layer * n_qubits + wire], wires=wire)

    for wire in range(n_qubits):
        qml.Hadamard(wires=wire)
    for layer in range(n_layers):
        if encoding_order == "operator":
            data(layer)
        for wire in range(n_qubits):
            qml.RZ(encoder_weights[layer, wire], wires=wire)
            qml.RY(encoder_weights[layer, wire], wires=wire)
        if entangle:
            for control, target in ladder_pairs(n_qubits):
                qml.CNOT(wires=[control, target])
        if encoding_order == "written":
            data(layer)


def qmtl_circuit(config):
    """Quantum function of the full QMTL head (Eqs. (2)-(5)) for a :class:`~qmtl_utils.quantum.config.QMTLConfig`.

    Signature ``circuit(inputs, encoder_weights, *task_weights)``; returns one expectation value
    per task observable, tasks in order.

    Taught in: 02_heads, "The QMTL circuit, written out"
    """

    def circuit(inputs, encoder_weights, *task_weights):
        if config.angle_map == "pi_tanh":
            inputs = math.pi * qml.math.tanh(inputs)
        qmtl_encoder(inputs, encoder_weights, config.n_qubits, config.n_layers, config.entangle, config.encoding_order)
        for weights, wires in zip(task_weights, config.task_wires):
            qml.StronglyEntanglingLayers(weights, wires=list(wires))
        return [
            qml.expval(pauli_observable(word, wires))
            for words, wires in zip(config.observables, config.task_wires)
            for word in words
        ]

    return circuit


def hqnn_circuit(n_qubits: int, n_repeats: int = 3, ansatz: str = "ry_ring"):
    """Quantum function of the HQNN baseline's circuit (Phukan et al. 2024; our reconstruction).

    The paper (Appendix B) says only: three projected features (β, γ, θ) are the circuit's
    angles, the ansatz is repeated three times, and ⟨Z⟩ is read on every qubit. No code is public,
    so we fix one concrete ansatz: per repetition ``r``, on every qubit ``RX(β)``, ``RY(γ)``,
    ``RZ(θ)`` (applied in that order), then a trainable ``RY(w_rq)``, then a CNOT ring
    CNOT(0,1), …, CNOT(Q-1,0). Signature ``circuit(angles, weights)`` with ``angles[..., 0:3]``
    and ``weights`` of shape ``(n_repeats, Q)``. The other readings (an open choice,
    :data:`~qmtl_utils.quantum.statevector.HQNN_ANSATZE`): ``"ring"`` drops the trainable RY
    (``weights`` ``(n_repeats, 0)``), ``"ry_ladder"`` closes each repetition with the CNOT ladder.

    Taught in: 02_heads, "The baselines"
    """
    pairs = hqnn_entangler(ansatz, n_qubits)

    def circuit(angles, weights):
        for repeat in range(n_repeats):
            for wire in range(n_qubits):
                qml.RX(angles[..., 0], wires=wire)
                qml.RY(angles[..., 1], wires=wire)
                qml.RZ(angles[..., 2], wires=wire)
                if ansatz != "ring":
                    qml.RY(weights[repeat, wire], wires=wire)
            for control, target in pairs:
                qml.CNOT(wires=[control, target])
        return [qml.expval(qml.PauliZ(wire)) for wire in range(n_qubits)]

    return circuit


def make_qnode(circuit, n_qubits: int, diff_method: str = "backprop", device=None):
    """A torch-interface QNode of ``circuit`` on ``default.qubit`` (or the given device).

    Taught in: 02_heads, "The baselines"
    """
    device = device or qml.device("default.qubit", wires=n_qubits)
    return qml.QNode(circuit, device, interface="torch", diff_method=diff_method)
