"""Finite-shot readout (qmtl_utils.quantum.shots) and the task density matrices it samples from."""

import numpy as np
import pytest
import torch

from qmtl_utils.models.factory import qmtl_config
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum import shots
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.quantum.observables import pauli_matrix, qubitwise_commuting_groups
from qmtl_utils.quantum.statevector import qmtl_task_density_matrices
from qmtl_utils.spec import BENCHMARKS
from qmtl_utils.training.metrics import chexpert_metrics


def _head(config: QMTLConfig, seed: int = 0) -> QMTLHead:
    torch.manual_seed(seed)
    return QMTLHead(config)


def _z(config: QMTLConfig, n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, config.d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# a small head with a 2-qubit 3-class task, a 1-qubit task and a task reading ZI, IZ, ZZ (one group) and XY
SMALL = QMTLConfig(
    n_qubits=5,
    n_layers=2,
    task_outputs=(3, 1, 4),
    observables=(("ZI", "IZ", "XX"), ("Z",), ("ZI", "IZ", "ZZ", "XY")),
    task_qubits=(2, 1, 2),
)


def _full_register_words(config: QMTLConfig) -> list[str]:
    words = []
    for wires, task_words in zip(config.task_wires, config.observables):
        for word in task_words:
            chars = ["I"] * config.n_qubits
            for wire, char in zip(wires, word):
                chars[wire] = char
            words.append("".join(chars))
    return words


@pytest.mark.parametrize("name, expected", [("chexpert", 2), ("mustard", 2), ("glue", 2)])
def test_measurement_settings_of_the_paper_heads(name, expected):
    # CheXpert: {ZI, IZ} + {XX} per task; MUStARD: sarcasm {Z}, sentiment {ZI, IZ} + {XX},
    # emotion {8 Z-type words} + {XXXX}; GLUE: eight {Z} tasks and MNLI {ZI, IZ} + {XX}
    config = qmtl_config(BENCHMARKS[name])
    assert shots.measurement_settings(config) == expected
    assert len(qubitwise_commuting_groups(_full_register_words(config))) == expected


def test_measurement_settings_with_a_y_word():
    config = QMTLConfig(4, 1, (3, 3), observables=(("ZI", "XX", "YY"), ("ZZ", "IZ", "ZI")), task_qubits=(2, 2))
    assert shots.measurement_settings(config) == 3
    assert len(qubitwise_commuting_groups(_full_register_words(config))) == 3


def test_task_density_matrices_are_states_that_give_the_expectation_values():
    head, z = _head(SMALL), _z(SMALL, 16)
    rhos = qmtl_task_density_matrices(z, head.encoder_weights.double(), [w.double() for w in head.task_weights], SMALL)
    expected = head.expectation_values(z).detach()
    values = []
    for rho, words in zip(rhos, SMALL.observables):
        rho = rho.detach()
        assert rho.dtype == torch.complex128
        torch.testing.assert_close(
            rho.diagonal(dim1=1, dim2=2).sum(-1).real, torch.ones(16, dtype=torch.float64), atol=1e-12, rtol=0
        )
        torch.testing.assert_close(rho, rho.mH, atol=1e-12, rtol=0)
        assert torch.linalg.eigvalsh(rho).min() > -1e-12
        for word in words:
            op = torch.as_tensor(pauli_matrix(word))
            values.append(torch.einsum("nij,ji->n", rho, op).real)
    torch.testing.assert_close(torch.stack(values, 1), expected, atol=1e-10, rtol=0)


def test_samples_have_the_readout_shape_and_order_and_are_reproducible():
    head, z = _head(SMALL), _z(SMALL, 8)
    a, b = shots.sample_expvals(head, z, 64, seed=3), shots.sample_expvals(head, z, 64, seed=3)
    assert a.shape == head.expectation_values(z).shape == (8, 8)
    assert torch.equal(a, b)
    assert not torch.equal(a, shots.sample_expvals(head, z, 64, seed=4))
    assert ((a.abs() <= 1) & ((a * 64).round() == a * 64)).all()  # multiples of 1/shots in [-1, 1]
    # column order: with many shots every column sits next to its own exact value
    exact = head.expectation_values(z).detach()
    close = shots.sample_expvals(head, z, 200_000, seed=0)
    assert (close - exact).abs().max() < 0.02
    assert [o.shape[1] for o in head.outputs_from_expvals(a)] == [3, 1, 4]


def test_law_of_large_numbers_within_five_standard_errors():
    head, z = _head(SMALL, 1), _z(SMALL, 32, 1)
    n = 200_000
    exact = head.expectation_values(z).detach().numpy()
    estimate = shots.sample_expvals(head, z, n, seed=11).numpy()
    se = np.sqrt(np.clip(1 - exact**2, 1e-12, None) / n)
    assert (np.abs(estimate - exact) < 5 * se + 1e-12).all()


def test_estimator_variance_is_one_minus_e_squared_over_shots():
    head, z = _head(SMALL, 2), _z(SMALL, 100, 2)
    n_shots, n_seeds = 50, 100
    exact = head.expectation_values(z).detach().numpy()
    probs = shots.measurement_probabilities(head, z)
    draws = np.stack([shots._estimate(SMALL, probs, n_shots, np.random.default_rng(s)) for s in range(n_seeds)])
    keep = 1 - exact**2 > 0.05  # standardising needs a non-degenerate variance
    standardized = (draws - exact) / np.sqrt(np.where(keep, 1 - exact**2, 1) / n_shots)
    variance = (standardized**2)[:, keep].mean()  # 100 x ~800 draws: relative sd ~ 0.5 %
    assert abs(variance - 1) < 0.05
    assert abs(standardized[:, keep].mean()) < 0.02
    for column in range(exact.shape[1]):  # and per observable
        cells = keep[:, column]
        assert abs((standardized[:, cells, column] ** 2).mean() - 1) < 0.15


def test_words_of_one_group_come_from_the_same_shots():
    head, z = _head(SMALL, 3), _z(SMALL, 64, 3)
    zi, iz, zz = 4, 5, 6  # third task's ZI, IZ, ZZ columns
    for seed in range(5):  # one shot: every estimate is one eigenvalue, ZZ = ZI * IZ
        one = shots.sample_expvals(head, z, 1, seed=seed)
        assert torch.equal(one[:, zz], one[:, zi] * one[:, iz])
    # many shots: the ZZ estimate is the mean over the shots of the product of the ZI and IZ outcomes
    probs = shots.measurement_probabilities(head, z)[2][0]
    counts = shots.sample_counts(probs, 500, np.random.default_rng(0))
    estimate = shots.expvals_from_counts(counts, ["ZI", "IZ", "ZZ"])
    for row in range(8):
        outcomes = np.repeat(np.arange(4), counts[row])  # the 500 shots of this row
        per_shot = shots.word_eigenvalues("ZI")[outcomes] * shots.word_eigenvalues("IZ")[outcomes]
        assert estimate[row, 2] == pytest.approx(per_shot.mean(), abs=1e-15)
    assert not np.allclose(estimate[:, 2], estimate[:, 0] * estimate[:, 1])  # not a product of the means


def test_basis_rotations_map_each_pauli_to_z():
    for char in "XYZ":
        u = shots.ROTATIONS[char]
        np.testing.assert_allclose(u @ pauli_matrix(char) @ u.conj().T, pauli_matrix("Z"), atol=1e-12)
    np.testing.assert_array_equal(shots.word_eigenvalues("ZI"), [1, 1, -1, -1])
    np.testing.assert_array_equal(shots.word_eigenvalues("XX"), [1, -1, -1, 1])
    assert shots.group_basis(["ZI", "IY"]) == "ZY" and shots.group_basis(["IX"]) == "ZX"


def test_shot_sweep_on_a_chexpert_head():
    config = qmtl_config(BENCHMARKS["chexpert"])
    head, z = _head(config, 4), _z(config, 40, 4).float()
    labels = np.random.default_rng(0).integers(0, 3, size=(40, 5))
    table = shots.shot_sweep(head, z, labels, [10, 100], [0, 1], chexpert_metrics)
    assert list(table.columns) == ["shots_per_setting", "total_shots", "seed", "exact", "task", "metric", "value"]
    assert len(table) == (1 + 2 * 2) * 5 * 4
    exact = table[table.exact]
    assert np.isinf(exact.shots_per_setting).all() and exact.seed.isna().all()
    finite = table[~table.exact]
    assert (finite.total_shots == 2 * finite.shots_per_setting).all()
    again = shots.shot_sweep(head, z, labels, [10, 100], [0, 1], chexpert_metrics)
    assert table.equals(again)
    # the exact rows are the metrics of the head's own forward pass
    direct = chexpert_metrics([o.detach().numpy() for o in head(z.double())], labels)
    assert exact.set_index(["task", "metric"]).value.to_dict() == {
        (t, m): v for t, values in direct.items() for m, v in values.items()
    }
