"""Finite-shot, depolarizing-noise evaluation of a trained QMTL head on Qiskit Aer (§6.3).

§6.3 applies independent depolarizing channels with the same probability ``p`` to every one-
and two-qubit gate (``p ∈ {0.01, 0.05, 0.1, 0.2}``) and reads the head with shots. Here the
circuit of :mod:`qmtl_utils.quantum.qiskit_circuits` is transpiled ONCE to the gate set of the
specification (``NATIVE_GATES``, optimization level 0: every gate of Eqs. (2)-(4) stays one gate and
gets one channel, the Hadamards of the X-basis readout included) and all samples go to Qiskit's
``BackendEstimatorV2`` on an ``AerSimulator`` as one PUB ``(circuit, observables, Z)``.

Why ``BackendEstimatorV2`` and not ``qiskit_aer.primitives.EstimatorV2``: Aer's estimator
computes the exact (noisy) expectation value and adds Gaussian noise of width ``precision``;
it never samples shots. ``BackendEstimatorV2`` measures each qubit-wise commuting group and
counts ``shots`` bitstrings, which is what hardware (§7) and the ``qiskit-ibm-runtime`` fake
backends (:mod:`qmtl_utils.quantum.hardware`) do, so noise and hardware numbers share one estimator.

``granularity`` says how gates are counted (the paper does not say; see
:mod:`qmtl_utils.quantum.exact_noise`): ``"native"`` (default, the behaviour above) or ``"merged"``, one
noisy ``u`` gate per rotation of Eqs. (2)-(4) (the encoder's ``RY(θ)RZ(θ)RX(z)`` per qubit and
layer, each ``Rot``), ``H`` its own ``u`` gate, readout basis changes one ``u`` each. Merged
circuits depend on the features through Euler angles, so they are built per sample (one PUB per
sample). :func:`aer_exact_expectation_values` is the exact value of what the shots estimate; the
fast exact path is :func:`qmtl_utils.quantum.exact_noise.noisy_expectation_values`.

What ``BackendEstimatorV2`` (qiskit 2.3) appends for readout, read from its source: per
qubit-wise commuting group, ``h`` on every ``X`` qubit and ``sdg; h`` on every ``Y`` qubit, then
``measure``; that readout circuit goes through ``Optimize1qGatesDecomposition`` on the backend's
basis. With the native noise model the basis holds ``h, rx, ry, rz``, so ``X`` stays one ``h`` and
``Y`` becomes ``rz(π/2); ry(π/2)``; with the merged model each becomes one ``u``. The noise model
matches gates by name, so these readout gates get their depolarizing channel like any other.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit.library import RXGate, RYGate, RZGate
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error

from qmtl_utils.quantum.config import require_literal_encoding
from qmtl_utils.quantum.exact_noise import check_noise
from qmtl_utils.quantum.qiskit_circuits import qmtl_observables, qmtl_qiskit_circuit, to_numpy
from qmtl_utils.quantum.shots import measurement_settings  # one home: the settings count of the shot study
from qmtl_utils.quantum.statevector import ladder_pairs, sel_pairs, sel_ranges

if TYPE_CHECKING:  # annotations only: the head lives in a higher layer (models)
    from qmtl_utils.models.heads import QMTLHead

ONE_QUBIT_GATES = ("h", "rx", "ry", "rz")
NATIVE_GATES = (*ONE_QUBIT_GATES, "cx")
MERGED_GATES = ("u", "cx")  # granularity="merged": every one-qubit unit is one noisy u gate
# Aer method for noisy runs, measured on the CheXpert head (10 qubits, 167 gates + readout) on
# 2 shared CPU cores, p=0.05, per circuit: density_matrix 1.9 s (1024 shots) / 2.4 s (8192),
# automatic (= statevector with one noise trajectory per shot) 2.4 s / 2.9 s. The density
# matrix (4**10 entries) applies every channel exactly once and then only samples the shots, so
# its cost hardly depends on the shot count (100 samples = 200 circuits: 106 s at 1024 shots).
# Without noise a single statevector is enough.
AER_METHOD = "density_matrix"


def depolarizing_noise_model(p: float, granularity: str = "native") -> NoiseModel | None:
    """§6.3 noise: ``depolarizing_error(p, 1)`` on every one-qubit gate of ``NATIVE_GATES`` (or on
    ``u`` for ``granularity="merged"``) and ``depolarizing_error(p, 2)`` on ``cx``; ``None`` (ideal
    simulator) for ``p = 0``.

    Taught in: 05_noise, "How many circuits per prediction?"
    """
    check_noise(p, granularity)
    if p == 0:
        return None
    gates = NATIVE_GATES if granularity == "native" else MERGED_GATES
    model = NoiseModel(basis_gates=list(gates))
    model.add_all_qubit_quantum_error(depolarizing_error(p, 1), [g for g in gates if g != "cx"])
    model.add_all_qubit_quantum_error(depolarizing_error(p, 2), ["cx"])
    return model


def merged_qiskit_circuit(head: QMTLHead, features) -> QuantumCircuit:
    """The head's circuit for one sample with one ``u`` gate per one-qubit unit (``granularity=
    "merged"``): ``H``; per layer and qubit ``u = RY(θ) RZ(θ) RX(z)`` (Eqs. (2)-(3)), then the CNOT ladder;
    per task block (Eq. (4)) ``u(θ, ω, φ) = Rot(φ, θ, ω)`` per wire and the CNOT ring. Equal to
    :func:`~qmtl_utils.qiskit_circuits.qmtl_qiskit_circuit` up to a global phase."""
    from qiskit.synthesis import OneQubitEulerDecomposer

    config, Q = head.config, head.config.n_qubits
    require_literal_encoding(config, "the merged-gate Qiskit circuit")
    decompose = OneQubitEulerDecomposer("U")
    encoder, features = to_numpy(head.encoder_weights), np.asarray(features, dtype=float)
    qc = QuantumCircuit(Q, name="qmtl_head_merged")
    for wire in range(Q):
        qc.u(math.pi / 2, 0.0, math.pi, wire)  # = H
    for layer in range(config.n_layers):
        for wire in range(Q):
            angle, x = encoder[layer, wire], features[layer * Q + wire]
            matrix = RYGate(angle).to_matrix() @ RZGate(angle).to_matrix() @ RXGate(x).to_matrix()
            qc.u(*decompose.angles(matrix), wire)
        if config.entangle:
            for control, target in ladder_pairs(Q):
                qc.cx(control, target)
    for weights, wires in zip(head.task_weights, config.task_wires):
        weights = to_numpy(weights)
        for layer, layer_range in enumerate(sel_ranges(*weights.shape[:2])):
            for local, wire in enumerate(wires):
                phi, theta, omega = weights[layer, local]
                qc.u(theta, omega, phi, wire)
            for control, target in sel_pairs(len(wires), layer_range):
                qc.cx(wires[control], wires[target])
    return qc


def shots_precision(shots: int) -> float:
    """Estimator precision that makes Qiskit run exactly ``shots`` shots (``ceil(1/prec²)``)."""
    precision = 1.0 / math.sqrt(shots)
    while math.ceil(1.0 / precision**2) > shots:  # float rounding may round 1/prec² up
        precision = math.nextafter(precision, 1.0)
    return precision


def two_qubit_gate_count(circuit) -> int:
    """Number of two-qubit operations in ``circuit``."""
    return sum(1 for inst in circuit.data if inst.operation.num_qubits == 2)


def aer_expectation_values(
    head: QMTLHead,
    z,
    p: float,
    shots: int = 1024,
    seed: int = 0,
    batch_size: int = 256,
    method: str | None = None,
    granularity: str = "native",
) -> tuple[np.ndarray, dict]:
    """§6.3: the head's raw readout ``(N, Σ r_t)`` (order of ``head.expectation_values``) from
    ``shots`` shots per measurement setting under depolarizing noise ``p``.

    The circuit is transpiled once (``seed_transpiler=seed``); each batch of ``batch_size``
    samples is one Estimator PUB. ``seed_simulator`` is ``seed + batch index``, so a re-run gives
    identical numbers. Returns the values and ``info`` (shots, measurement settings, wall time,
    transpiled depth, two-qubit gate count, Aer method; default ``AER_METHOD`` with noise).
    ``granularity="merged"`` runs :func:`merged_qiskit_circuit` instead, one PUB per sample
    (same seeds per batch); the default ``"native"`` is the path described above.

    Taught in: 05_noise, "The exact noisy path, checked against Aer"
    """
    from qiskit.primitives import BackendEstimatorV2

    start = time.perf_counter()
    noise_model = depolarizing_noise_model(p, granularity)
    method = method or (AER_METHOD if noise_model else "statevector")
    simulator = AerSimulator(method=method, noise_model=noise_model)
    observables = qmtl_observables(head.config)
    features = to_numpy(z)
    if granularity == "native":
        circuit = transpile(qmtl_qiskit_circuit(head), basis_gates=list(NATIVE_GATES), optimization_level=0, seed_transpiler=seed)
    else:
        circuit = merged_qiskit_circuit(head, features[0])
    values = []
    for index, begin in enumerate(range(0, len(features), batch_size)):
        estimator = BackendEstimatorV2(
            backend=simulator, options={"default_precision": shots_precision(shots), "seed_simulator": seed + index}
        )
        batch = features[begin : begin + batch_size]
        if granularity == "native":
            pub = (circuit, [[op] for op in observables], batch)  # evs shape (Σ r_t, n)
            values.append(estimator.run([pub]).result()[0].data.evs.T)
        else:
            pubs = [(merged_qiskit_circuit(head, row), [[op] for op in observables]) for row in batch]
            values.append(np.stack([r.data.evs[:, 0] for r in estimator.run(pubs).result()]))
    info = {
        "p": p,
        "shots": shots,
        "seed": seed,
        "method": method,
        "granularity": granularity,
        "measurement_settings": measurement_settings(head.config),
        "depth": circuit.depth(),
        "two_qubit_gates": two_qubit_gate_count(circuit),
        "n_samples": len(features),
        "wall_s": round(time.perf_counter() - start, 3),
    }
    return np.concatenate(values, axis=0), info


def readout_pass_manager(simulator: AerSimulator):
    """The pass ``BackendEstimatorV2`` runs on its readout circuits (its ``__init__``):
    ``Optimize1qGatesDecomposition`` on the backend's basis gates."""
    from qiskit.transpiler import PassManager, PassManagerConfig
    from qiskit.transpiler.passes import Optimize1qGatesDecomposition

    basis = PassManagerConfig.from_backend(simulator).basis_gates
    return PassManager([Optimize1qGatesDecomposition(basis=basis, target=simulator.target)])


def readout_circuit(n_qubits: int, basis: str, qubits) -> QuantumCircuit:
    """Basis change of one measurement setting as ``BackendEstimatorV2`` writes it before its pass:
    ``h`` for ``X``, ``sdg; h`` for ``Y`` (``basis[i]`` on qubit ``qubits[i]``), nothing for ``Z``."""
    qc = QuantumCircuit(n_qubits)
    for char, qubit in zip(basis, qubits):
        if char == "Y":
            qc.sdg(qubit)
        if char in "XY":
            qc.h(qubit)
    return qc


def aer_exact_expectation_values(head: QMTLHead, z, p: float, granularity: str = "native") -> np.ndarray:
    """Exact value of what :func:`aer_expectation_values` estimates: the same circuits and noise
    model on Aer (``density_matrix`` with noise, ``statevector`` without), and for every group of
    qubit-wise commuting observables the readout circuit of ``BackendEstimatorV2`` (same basis
    change, same pass, so the same noisy gates), with ``save_expectation_value`` of each observable
    as the ``Z`` string it is measured as instead of shots. Groups without readout gates are saved
    in the circuit of the first group with gates, before its basis change. ``(N, Σ r_t)``; slow,
    a reference for :func:`qmtl_utils.quantum.exact_noise.noisy_expectation_values`.

    Taught in: 05_noise, "The exact noisy path, checked against Aer"
    """
    from qiskit.quantum_info import Pauli, PauliList

    noise_model = depolarizing_noise_model(p, granularity)
    simulator = AerSimulator(method=AER_METHOD if noise_model else "statevector", noise_model=noise_model)
    passes = readout_pass_manager(simulator)
    Q = head.config.n_qubits
    labels = [op.paulis[0].to_label() for op in qmtl_observables(head.config)]
    changes = []
    for group in PauliList(labels).group_commuting(qubit_wise=True):
        x, zz = np.logical_or.reduce(group.x, axis=0), np.logical_or.reduce(group.z, axis=0)
        qubits = [q for q in range(Q) if x[q] or zz[q]]
        basis = ["Y" if x[q] and zz[q] else "X" if x[q] else "Z" for q in qubits]
        changes.append((group, passes.run(readout_circuit(Q, basis, qubits))))
    changes.sort(key=lambda item: len(item[1].data) > 0)  # gate-free groups first

    def save(circuit, group):
        for pauli in group:
            support = [q for q in range(Q) if pauli.x[q] or pauli.z[q]]
            circuit.save_expectation_value(Pauli("Z" * len(support)), support, label=pauli.to_label())

    features = to_numpy(z)
    native = (
        transpile(qmtl_qiskit_circuit(head), basis_gates=list(NATIVE_GATES), optimization_level=0)
        if granularity == "native"
        else None
    )
    circuits, owners = [], []
    for index, row in enumerate(features):
        base = native.assign_parameters(row) if native is not None else merged_qiskit_circuit(head, row)
        circuit = base.copy()
        for group, change in changes:
            if len(change.data) == 0:
                save(circuit, group)
                continue
            circuit.compose(change, inplace=True)
            save(circuit, group)
            circuits.append(circuit)
            owners.append(index)
            circuit = base.copy()
        if len(circuit.data) > len(base.data):  # only gate-free groups: their saves are on this copy
            circuits.append(circuit)
            owners.append(index)
    # enable_truncation=False: Aer 0.17.2 remaps save_expectation_value wrongly when it truncates
    # idle qubits away (Qiskit/qiskit-aer#2442); an unused qubit, or entangle=False, triggers it
    result = simulator.run(circuits, enable_truncation=False).result()
    values = [{} for _ in features]
    for i, owner in enumerate(owners):
        values[owner].update(result.data(i))
    return np.array([[float(np.real(v[label])) for label in labels] for v in values])


def pennylane_aer_expectation_values(head: QMTLHead, z, p: float, shots: int = 1024, seed: int = 0) -> np.ndarray:
    """Cross-check of :func:`aer_expectation_values` through PennyLane-Qiskit: the reference
    QNode on ``qml.device("qiskit.aer", ...)`` with the same noise model and gate set, one
    circuit per sample (slow; meant for a handful of samples)."""
    import pennylane as qml
    import torch

    device = qml.device(
        "qiskit.aer",
        wires=head.config.n_qubits,
        noise_model=depolarizing_noise_model(p),
        seed_simulator=seed,
        seed_transpiler=seed,
        basis_gates=list(NATIVE_GATES),
        optimization_level=0,
    )
    qnode = qml.set_shots(head.qnode(diff_method=None, device=device), shots=shots)
    weights = [w.detach().double() for w in (head.encoder_weights, *head.task_weights)]
    rows = [torch.stack(list(qnode(torch.as_tensor(row), *weights))).numpy() for row in to_numpy(z)]
    return np.array(rows, dtype=float)
