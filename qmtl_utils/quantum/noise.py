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
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
from qiskit import transpile
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error

from qmtl_utils.quantum.qiskit_circuits import qmtl_observables, qmtl_qiskit_circuit, to_numpy
from qmtl_utils.quantum.shots import measurement_settings  # one home: the settings count of the shot study

if TYPE_CHECKING:  # annotations only: the head lives in a higher layer (models)
    from qmtl_utils.models.heads import QMTLHead

ONE_QUBIT_GATES = ("h", "rx", "ry", "rz")
NATIVE_GATES = (*ONE_QUBIT_GATES, "cx")
# Aer method for noisy runs, measured on the CheXpert head (10 qubits, 167 gates + readout) on
# 2 shared CPU cores, p=0.05, per circuit: density_matrix 1.9 s (1024 shots) / 2.4 s (8192),
# automatic (= statevector with one noise trajectory per shot) 2.4 s / 2.9 s. The density
# matrix (4**10 entries) applies every channel exactly once and then only samples the shots, so
# its cost hardly depends on the shot count (100 samples = 200 circuits: 106 s at 1024 shots).
# Without noise a single statevector is enough.
AER_METHOD = "density_matrix"


def depolarizing_noise_model(p: float) -> NoiseModel | None:
    """§6.3 noise: ``depolarizing_error(p, 1)`` on every one-qubit gate of ``NATIVE_GATES`` and
    ``depolarizing_error(p, 2)`` on ``cx``; ``None`` (ideal simulator) for ``p = 0``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"depolarizing probability must be in [0, 1], got {p}")
    if p == 0:
        return None
    model = NoiseModel(basis_gates=list(NATIVE_GATES))
    model.add_all_qubit_quantum_error(depolarizing_error(p, 1), list(ONE_QUBIT_GATES))
    model.add_all_qubit_quantum_error(depolarizing_error(p, 2), ["cx"])
    return model


def shots_precision(shots: int) -> float:
    """Estimator precision that makes Qiskit run exactly ``shots`` shots (``ceil(1/prec²)``)."""
    precision = 1.0 / math.sqrt(shots)
    while math.ceil(1.0 / precision**2) > shots:  # float rounding may round 1/prec² up
        precision = math.nextafter(precision, 1.0)
    return precision


def two_qubit_gate_count(circuit) -> int:
    """Number of two-qubit operations in ``circuit``."""
    return sum(1 for inst in circuit.data if inst.operation.num_qubits == 2)


def aer_expectation_values(head: QMTLHead, z, p: float, shots: int = 1024, seed: int = 0,
                           batch_size: int = 256, method: str | None = None) -> tuple[np.ndarray, dict]:
    """§6.3: the head's raw readout ``(N, Σ r_t)`` (order of ``head.expectation_values``) from
    ``shots`` shots per measurement setting under depolarizing noise ``p``.

    The circuit is transpiled once (``seed_transpiler=seed``); each batch of ``batch_size``
    samples is one Estimator PUB. ``seed_simulator`` is ``seed + batch index``, so a re-run gives
    identical numbers. Returns the values and ``info`` (shots, measurement settings, wall time,
    transpiled depth, two-qubit gate count, Aer method; default ``AER_METHOD`` with noise).
    """
    from qiskit.primitives import BackendEstimatorV2

    start = time.perf_counter()
    noise_model = depolarizing_noise_model(p)
    method = method or (AER_METHOD if noise_model else "statevector")
    simulator = AerSimulator(method=method, noise_model=noise_model)
    circuit = transpile(qmtl_qiskit_circuit(head), basis_gates=list(NATIVE_GATES),
                        optimization_level=0, seed_transpiler=seed)
    observables = qmtl_observables(head.config)
    features = to_numpy(z)
    values = []
    for index, begin in enumerate(range(0, len(features), batch_size)):
        estimator = BackendEstimatorV2(backend=simulator, options={
            "default_precision": shots_precision(shots), "seed_simulator": seed + index})
        batch = features[begin:begin + batch_size]
        pub = (circuit, [[op] for op in observables], batch)  # evs shape (Σ r_t, n)
        values.append(estimator.run([pub]).result()[0].data.evs.T)
    info = {"p": p, "shots": shots, "seed": seed, "method": method,
            "measurement_settings": measurement_settings(head.config),
            "depth": circuit.depth(), "two_qubit_gates": two_qubit_gate_count(circuit),
            "n_samples": len(features), "wall_s": round(time.perf_counter() - start, 3)}
    return np.concatenate(values, axis=0), info


def pennylane_aer_expectation_values(head: QMTLHead, z, p: float, shots: int = 1024,
                                     seed: int = 0) -> np.ndarray:
    """Cross-check of :func:`aer_expectation_values` through PennyLane-Qiskit: the reference
    QNode on ``qml.device("qiskit.aer", ...)`` with the same noise model and gate set, one
    circuit per sample (slow; meant for a handful of samples)."""
    import pennylane as qml
    import torch

    device = qml.device("qiskit.aer", wires=head.config.n_qubits, noise_model=depolarizing_noise_model(p),
                        seed_simulator=seed, seed_transpiler=seed,
                        basis_gates=list(NATIVE_GATES), optimization_level=0)
    qnode = qml.set_shots(head.qnode(diff_method=None, device=device), shots=shots)
    weights = [w.detach().double() for w in (head.encoder_weights, *head.task_weights)]
    rows = [torch.stack(list(qnode(torch.as_tensor(row), *weights))).numpy()
            for row in to_numpy(z)]
    return np.array(rows, dtype=float)
