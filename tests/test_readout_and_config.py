"""Readout presets, the general readout rule, measurement groups and head-configuration errors."""

import numpy as np
import pytest

from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.quantum.observables import (
    default_observables,
    default_task_qubits,
    pauli_matrix,
    qubitwise_commuting_groups,
)


def test_presets_are_the_papers():
    assert default_observables(1) == ("Z",)
    assert default_observables(3) == ("ZI", "IZ", "XX")  # {Z0, Z1, X0X1}, Eq. (4)
    assert default_observables(9) == ("ZIII", "IZII", "IIZI", "IIIZ", "ZZII", "IZZI", "IIZZ", "ZIIZ", "XXXX")
    assert [default_task_qubits(r) for r in (1, 3, 9)] == [1, 2, 4]


def test_general_rule_for_other_sizes():
    assert default_observables(2) == ("ZI", "IZ")
    assert default_observables(5) == ("ZIII", "IZII", "IIZI", "IIIZ", "XXXX")
    # the rule reproduces the 9-class preset's set of observables
    assert set(default_observables(9, 4)) == set(default_observables(9))
    words = default_observables(11)
    assert default_task_qubits(11) == 5 and len(set(words)) == 11
    assert default_observables(3, 3) == ("ZII", "IZI", "IIZ")
    with pytest.raises(ValueError, match="need more qubits"):
        default_observables(4, 1)


def test_pauli_matrix_wire_order():
    # first character = first (most significant) wire, as in PennyLane
    zi = pauli_matrix("ZI")
    assert np.allclose(np.diag(zi), [1, 1, -1, -1])
    assert np.allclose(pauli_matrix("XX") @ pauli_matrix("XX"), np.eye(4))


def test_measurement_settings_of_the_paper_readouts():
    assert qubitwise_commuting_groups(default_observables(3)) == [["ZI", "IZ"], ["XX"]]
    assert len(qubitwise_commuting_groups(default_observables(9))) == 2
    assert qubitwise_commuting_groups(["XI", "IY", "XY", "ZZ"]) == [["XI", "IY", "XY"], ["ZZ"]]


def test_config_defaults_follow_the_paper():
    config = QMTLConfig(13, 3, (1, 3, 3, 9, 9))
    assert config.task_qubits == (1, 2, 2, 4, 4)
    assert config.task_wires == ((0,), (1, 2), (3, 4), (5, 6, 7, 8), (9, 10, 11, 12))
    assert config.d == 39 and config.task_kinds[0] == "binary"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_qubits=4, n_layers=3, task_outputs=(3, 3, 3)), "disjoint subsets of the 4 qubits"),
        (dict(n_qubits=4, n_layers=3, task_outputs=(3,), task_wires=((0, 0),)), "disjoint"),
        (dict(n_qubits=4, n_layers=3, task_outputs=(3,), observables=(("ZI", "IZ"),)), "2 observables for 3 outputs"),
        (dict(n_qubits=4, n_layers=3, task_outputs=(2,), observables=(("ZI", "II"),)), "non-identity Pauli word"),
        (dict(n_qubits=4, n_layers=3, task_outputs=(1,), task_kinds=("ordinal",)), "unknown task kind"),
        (dict(n_qubits=4, n_layers=0, task_outputs=(1,)), "must be positive"),
    ],
)
def test_config_errors_are_clear(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QMTLConfig(**kwargs)
