"""Finite-shot readout of a QMTL head: measurement settings, exact shot sampling, shot sweeps.

Eqs. (4)-(5) read every task's logits as Pauli expectation values. On hardware each is estimated
from a finite number of shots, and "commuting observables can be estimated from the same state
preparation and basis setting; non-commuting groups require separate settings" (§4.1). This module
counts those settings and samples the estimates exactly:

* a task's words are split into qubit-wise commuting groups
  (:func:`~qmtl_utils.quantum.observables.qubitwise_commuting_groups`); one group is one basis per qubit;
* for every group, the task register's density matrix after its sub-circuit
  (:func:`~qmtl_utils.quantum.statevector.qmtl_task_density_matrices`) is rotated into that basis, its diagonal is
  the outcome distribution over the ``2**S_t`` bit strings, ``shots`` outcomes are drawn from it
  (multinomial, seeded ``numpy`` Generator), and every word of the group is estimated from the
  *same* outcomes as the mean of the product of its ±1 eigenvalues on its support.

Each task's estimates are therefore exactly distributed as on hardware (jointly within a group,
independently across groups). Different tasks are sampled independently; on hardware they share
shots (one setting measures all tasks at once) and their outcomes are correlated through the
entangled encoder state, which changes no per-task estimate or metric. The density matrices come
from the dense state, so sampling needs ``Q`` small enough for the fast simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.quantum.observables import qubitwise_commuting_groups
from qmtl_utils.quantum.statevector import qmtl_task_density_matrices

if TYPE_CHECKING:  # annotations only: the head lives in a higher layer (models)
    from qmtl_utils.models.heads import QMTLHead

_H = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
_S_DAG = np.diag([1, -1j])
ROTATIONS = {"X": _H, "Y": _H @ _S_DAG, "Z": np.eye(2, dtype=complex), "I": np.eye(2, dtype=complex)}


def task_groups(config: QMTLConfig) -> list[list[list[str]]]:
    """Qubit-wise commuting groups of each task's observables (words on the task's ``S_t`` qubits).

    Taught in: 04a_task_scaling_and_shots, "The shot budget of multi-observable readout"
    """
    return [qubitwise_commuting_groups(words) for words in config.observables]


def measurement_settings(config: QMTLConfig) -> int:
    """Measurement settings (circuit executions with distinct bases) per prediction.

    The task registers are disjoint, so the ``k``-th group of every task can be measured in the same
    execution: their per-qubit bases touch different qubits and never conflict. The count is hence
    the largest number of groups of any one task, ``max_t G_t``, not the sum. (The same holds for
    the greedy partition of all tasks' words written on the full register, which is what
    tests/test_shots.py checks.) CheXpert (``ZI, IZ, XX`` per task) needs 2.

    Taught in: 04a_task_scaling_and_shots, "The shot budget of multi-observable readout"
    Taught in: 05_noise, "How many circuits per prediction?"
    """
    return max(len(groups) for groups in task_groups(config))


def group_basis(words: Sequence[str]) -> str:
    """Measurement basis per qubit of a qubit-wise commuting group (``Z`` where every word has ``I``)."""
    basis = []
    for chars in zip(*words):
        letters = set(chars) - {"I"}
        if len(letters) > 1:
            raise ValueError(f"words {list(words)} do not commute qubit-wise")
        basis.append(letters.pop() if letters else "Z")
    return "".join(basis)


@lru_cache(maxsize=None)
def basis_rotation(basis: str) -> np.ndarray:
    """``⊗_q R_q`` with ``R = H`` for X, ``H S†`` for Y, identity for Z and I: turns a measurement in
    ``basis`` into a computational-basis one (first character on the most significant qubit)."""
    matrix = np.ones((1, 1), dtype=complex)
    for char in basis:
        matrix = np.kron(matrix, ROTATIONS[char])
    return matrix


@lru_cache(maxsize=None)
def word_eigenvalues(word: str) -> np.ndarray:
    """±1 eigenvalue of ``word`` (in its measurement basis) for each outcome ``0..2**S-1``:
    the product of ``(-1)^bit`` over the qubits where ``word`` is not ``I``."""
    n = len(word)
    outcomes = np.arange(2**n)
    signs = np.ones(2**n)
    for q, char in enumerate(word):
        if char != "I":
            signs *= 1 - 2 * ((outcomes >> (n - 1 - q)) & 1)
    return signs


def measurement_probabilities(head: QMTLHead, z: torch.Tensor) -> list[list[np.ndarray]]:
    """Outcome distribution ``(N, 2**S_t)`` of every group of every task (float64, rows sum to 1)."""
    with torch.no_grad():
        z = torch.as_tensor(z).double()
        rhos = qmtl_task_density_matrices(z, head.encoder_weights.double(), [w.double() for w in head.task_weights], head.config)
    out = []
    for rho, groups in zip(rhos, task_groups(head.config)):
        rho = rho.numpy()
        task = []
        for words in groups:
            u = basis_rotation(group_basis(words))
            probs = np.einsum("ij,njk,ik->ni", u, rho, u.conj()).real.clip(min=0.0)
            task.append(probs / probs.sum(axis=1, keepdims=True))
        out.append(task)
    return out


def sample_counts(probs: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Outcome counts ``(N, 2**S)`` of ``shots`` measurements per row of ``probs``."""
    return rng.multinomial(shots, probs)


def expvals_from_counts(counts: np.ndarray, words: Sequence[str]) -> np.ndarray:
    """Estimates ``(N, len(words))`` of every word from the same outcome counts: the mean over
    shots of the product of the word's ±1 eigenvalues."""
    signs = np.stack([word_eigenvalues(w) for w in words], axis=1)
    return counts @ signs / counts.sum(axis=1, keepdims=True)


def _estimate(config: QMTLConfig, probabilities, shots: int, rng: np.random.Generator) -> np.ndarray:
    columns = []
    for words, groups, task_probs in zip(config.observables, task_groups(config), probabilities):
        estimates = {}
        for group, probs in zip(groups, task_probs):
            estimates.update(zip(group, expvals_from_counts(sample_counts(probs, shots, rng), group).T))
        columns += [estimates[w] for w in words]
    return np.stack(columns, axis=1)


def sample_expvals(head: QMTLHead, z: torch.Tensor, shots_per_setting: int, seed: int | np.random.Generator) -> torch.Tensor:
    """Finite-shot estimates of every observable, ``(N, Σ r_t)`` float64 in
    :meth:`~qmtl_utils.models.heads.QMTLHead.expectation_values` order; ``shots_per_setting`` shots for
    every group of every task; feed them to :meth:`~qmtl_utils.models.heads.QMTLHead.outputs_from_expvals`.

    Taught in: 04a_task_scaling_and_shots, "The shot budget of multi-observable readout"
    """
    probabilities = measurement_probabilities(head, z)
    return torch.from_numpy(_estimate(head.config, probabilities, shots_per_setting, np.random.default_rng(seed)))


MetricFn = Callable[[list, np.ndarray], dict]


def shot_sweep(
    head: QMTLHead, z: torch.Tensor, labels, shots_list: Sequence[int], seeds: Sequence[int], metric_fn: MetricFn
) -> pd.DataFrame:
    """Task metrics of ``head`` on features ``z`` with finite-shot readout, for every shot budget and seed.

    ``metric_fn(outputs, labels)`` gets the per-task outputs (a list of numpy arrays, from
    :meth:`~qmtl_utils.models.heads.QMTLHead.outputs_from_expvals`) and returns ``{task: {metric: value}}``,
    e.g. :func:`qmtl_utils.training.metrics.chexpert_metrics`. Returns a tidy frame with columns
    ``shots_per_setting, total_shots`` (``= shots_per_setting ×`` :func:`measurement_settings`),
    ``seed, exact, task, metric, value``; the exact (infinite-shot) readout has ``shots = inf``,
    ``seed`` missing and ``exact = True``. The outcome distributions are computed once and re-sampled.

    Taught in: 04a_task_scaling_and_shots, "The shot budget of multi-observable readout"
    """
    z = torch.as_tensor(z)
    labels = np.asarray(labels)
    settings = measurement_settings(head.config)
    probabilities = measurement_probabilities(head, z)

    def rows(expvals, shots, seed):
        with torch.no_grad():
            outputs = [o.detach().numpy() for o in head.outputs_from_expvals(torch.as_tensor(expvals))]
        return [
            {
                "shots_per_setting": shots,
                "total_shots": shots * settings,
                "seed": seed,
                "exact": math.isinf(shots),
                "task": task,
                "metric": metric,
                "value": float(value),
            }
            for task, values in metric_fn(outputs, labels).items()
            for metric, value in values.items()
        ]

    with torch.no_grad():
        out = rows(head.expectation_values(z.double()), math.inf, None)
    for shots in shots_list:
        for seed in seeds:
            out += rows(_estimate(head.config, probabilities, shots, np.random.default_rng(seed)), shots, seed)
    frame = pd.DataFrame(out)
    frame["seed"] = frame["seed"].astype("Int64")
    return frame
