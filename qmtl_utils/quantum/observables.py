"""Multi-observable readout of a task sub-register (§4.1, Eqs. (4)-(5)).

A task's readout is a tuple of Pauli words on its own ``S_t`` qubits, one character per local
qubit, the first character acting on the task's first wire: ``("ZI", "IZ", "XX")`` is
{Z0, Z1, X0X1}. Each word's expectation value is one logit.

Presets (as the paper uses them, Appendix B):

====================  ======  =============================================================
outputs ``r_t``        ``S_t``  observables
====================  ======  =============================================================
1 (binary/regression)  1       ⟨Z0⟩
3 (3 classes)          2       {Z0, Z1, X0X1}
9 (9 classes)          4       {Z0, Z1, Z2, Z3, Z0Z1, Z1Z2, Z2Z3, Z3Z0, X0X1X2X3}
====================  ======  =============================================================

General rule for any other ``r`` (:func:`default_observables`): on ``S`` qubits take, in order,
the single-qubit ``Z_i``, then the all-X word ``X…X``, then the ring products ``Z_iZ_{i+1 mod S}``,
then every remaining non-identity Pauli word in lexicographic order (I < X < Y < Z), and keep the
first ``r``. This ordering reproduces the 1- and 3-output presets exactly and the 9-output preset's
set of observables. :func:`default_task_qubits` picks ``S``: 1 qubit for 1 output, 2 for 2-3,
4 for 4-9, and beyond that the smallest ``S`` whose Z, X…X and ring words give ``r`` (``2S+1 >= r``).
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}

PRESETS: dict[int, tuple[str, ...]] = {
    1: ("Z",),
    3: ("ZI", "IZ", "XX"),
    9: ("ZIII", "IZII", "IIZI", "IIIZ", "ZZII", "IZZI", "IIZZ", "ZIIZ", "XXXX"),
}


def default_task_qubits(n_outputs: int) -> int:
    """Sub-register size ``S_t`` for ``n_outputs`` logits (see the module docstring).

    Taught in: 02_heads, "Readout: more logits than qubits"
    """
    if n_outputs < 1:
        raise ValueError(f"a task needs at least one output, got {n_outputs}")
    if n_outputs == 1:
        return 1
    if n_outputs <= 3:
        return 2
    if n_outputs <= 9:
        return 4
    return n_outputs // 2  # the smallest S with 2S + 1 >= r


def _single_z(n_qubits: int) -> list[str]:
    return ["I" * i + "Z" + "I" * (n_qubits - i - 1) for i in range(n_qubits)]


def _ring_zz(n_qubits: int) -> list[str]:
    if n_qubits < 3:  # on 2 qubits the ring has one pair, Z0Z1, listed after X...X
        return ["ZZ"] if n_qubits == 2 else []
    words = []
    for i in range(n_qubits):
        chars = ["I"] * n_qubits
        chars[i] = chars[(i + 1) % n_qubits] = "Z"
        words.append("".join(chars))
    return words


def default_observables(n_outputs: int, n_qubits: int | None = None) -> tuple[str, ...]:
    """Pauli words for ``n_outputs`` logits on ``n_qubits`` qubits (preset or general rule).

    Taught in: 02_heads, "Readout: more logits than qubits"
    """
    n_qubits = default_task_qubits(n_outputs) if n_qubits is None else n_qubits
    preset = PRESETS.get(n_outputs)
    if preset is not None and len(preset[0]) == n_qubits:
        return preset
    ordered = _single_z(n_qubits) + ["X" * n_qubits] + _ring_zz(n_qubits)
    rest = ("".join(w) for w in itertools.product("IXYZ", repeat=n_qubits))
    for word in rest:
        if word != "I" * n_qubits and word not in ordered:
            ordered.append(word)
    if n_outputs > len(ordered):
        raise ValueError(
            f"{n_qubits} qubits have only {len(ordered)} non-identity Pauli words; {n_outputs} outputs need more qubits"
        )
    return tuple(ordered[:n_outputs])


def validate_words(words: tuple[str, ...], n_qubits: int) -> None:
    """Raise a clear error if ``words`` are not distinct non-identity Pauli words on ``n_qubits``."""
    for word in words:
        if len(word) != n_qubits or set(word) - set("IXYZ") or set(word) == {"I"}:
            raise ValueError(
                f"observable {word!r} is not a non-identity Pauli word on {n_qubits} qubits (one of I, X, Y, Z per qubit)"
            )
    if len(set(words)) != len(words):
        raise ValueError(f"observables repeat: {words}")


@lru_cache(maxsize=None)
def pauli_matrix(word: str) -> np.ndarray:
    """Dense matrix of a Pauli word; the first character is the most significant qubit
    (PennyLane's wire ordering).

    Taught in: 02_heads, "A fast exact simulator"
    """
    matrix = np.ones((1, 1), dtype=complex)
    for char in word:
        matrix = np.kron(matrix, PAULI[char])
    return matrix


def qubitwise_commuting_groups(words: list[str] | tuple[str, ...]) -> list[list[str]]:
    """Greedy partition of Pauli words (all on the same register) into qubit-wise commuting groups.

    Each group can be estimated from one measurement setting (one basis per qubit), so the
    number of groups is the number of circuit executions per prediction on hardware.

    Taught in: 02_heads, "Readout: more logits than qubits"
    """
    groups: list[tuple[list[str], list[str]]] = []  # (members, basis per qubit)
    for word in words:
        for members, basis in groups:
            if all(b == "I" or c == "I" or b == c for b, c in zip(basis, word)):
                members.append(word)
                basis[:] = [c if b == "I" else b for b, c in zip(basis, word)]
                break
        else:
            groups.append(([word], list(word)))
    return [members for members, _ in groups]
