"""Parameter counts of instantiated heads against the closed forms of §4.2 (Eqs. (8), (11), (15)-(17))."""

import json
import random
import subprocess
import sys

import pytest

from qmtl_utils.models import params
from qmtl_utils.models.heads import ClassicalHeads, HQNNHead, QMTLHead
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.spec import BENCHMARKS


def test_benchmark_heads_match_closed_forms():
    table = params.benchmark_table()
    assert len(table) == 12
    assert (table.measured == table.closed_form).all()


def test_paper_configurations():
    table = params.benchmark_table().set_index(["benchmark", "variant"]).measured
    # CheXpert: 5 x 3 x (30 + 1) classical; QMTL 10*3 + 5*3*2 circuit + 5 temperatures
    assert table["chexpert", "classical"] == 465 and table["chexpert", "qmtl"] == 65
    # GLUE: 8 x 31 + 3 x 31; QMTL 30 + 8*3 + 6 + STS-B affine (2)
    assert table["glue", "classical"] == 341 and table["glue", "qmtl"] == 62
    # Extended MUStARD: the ">12x" reduction of Fig. 4
    assert table["mustard", "classical"] / table["mustard", "qmtl"] > 12


@pytest.mark.parametrize("seed", range(20))
def test_random_heads_match_closed_forms(seed):
    rng = random.Random(seed)
    outputs = tuple(rng.choice([1, 2, 3, 9]) for _ in range(rng.randint(1, 6)))
    config = QMTLConfig(
        n_qubits=40,
        n_layers=rng.randint(1, 4),
        task_outputs=outputs,
        head_layers=rng.randint(1, 3),
        output_scale=rng.random() < 0.5,
        task_kinds=tuple(
            "regression" if r == 1 and rng.random() < 0.3 else ("binary" if r == 1 else "multiclass") for r in outputs
        ),
    )
    assert params.count_trainable(QMTLHead(config)) == params.qmtl_head_params(config)
    d = rng.randint(3, 64)
    assert params.count_trainable(ClassicalHeads(d, outputs)) == params.classical_head_params(d, outputs)
    q = rng.choice([4, 10, 13])
    assert params.count_trainable(HQNNHead(d, q, outputs)) == params.hqnn_head_params(d, q, outputs)
    ansatz = rng.choice(["ry_ring", "ring", "ry_ladder"])
    assert params.count_trainable(HQNNHead(d, q, outputs, ansatz=ansatz)) == params.hqnn_head_params(d, q, outputs, ansatz=ansatz)


@pytest.mark.parametrize(
    "changes",
    [{"encoding_order": "written"}, {"angle_map": "pi_tanh"}, {"output_scale": 2.5}, {"task_wires": ((3,), (0, 1), (2,))}],
)
def test_open_choices_count(changes):
    """The open-choice switches of the QMTL head: the encoding order, the angle map and the
    placement add or remove no parameter; a fixed logit scale is a buffer, not a parameter."""
    base = QMTLConfig(n_qubits=4, n_layers=2, task_outputs=(1, 3, 1), task_qubits=(1, 2, 1), output_scale=True)
    config = QMTLConfig(
        **{**{f: getattr(base, f) for f in ("n_qubits", "n_layers", "task_outputs", "task_qubits", "output_scale")}, **changes}
    )
    expected = params.qmtl_head_params(base) - (3 if changes.get("output_scale") == 2.5 else 0)
    assert params.count_trainable(QMTLHead(config)) == params.qmtl_head_params(config) == expected


def test_capacity_matched_sweep_follows_theorem_1():
    table = params.scaling_table(range(1, 31), task_qubits=2, outputs_per_task=3)
    assert (table.classical_measured == table.classical_eq15).all()
    assert (table.qmtl_measured == table.qmtl_eq16).all()
    # linear vs quadratic: second differences vanish for QMTL, are constant and positive for classical
    second_q = table.qmtl_measured.diff().diff().dropna()
    second_c = table.classical_measured.diff().diff().dropna()
    assert (second_q == 0).all() and (second_c == second_c.iloc[0]).all() and second_c.iloc[0] > 0
    # the exact ratio approaches Eq. (17) as T grows
    gap = (table.ratio_measured / table.ratio_eq17 - 1).abs()
    assert gap.is_monotonic_decreasing and gap.iloc[-1] < 0.01


def test_remark_1_example():
    # r=2, L=3, k_theta=1, L_h=1: P_Q / P_C ~ 2 / (3T)
    assert params.capacity_matched_ratio(10, 3, 1, 2, k_theta=1) == pytest.approx(1 / 15)


@pytest.mark.slow
def test_cli_prints_table_and_json():
    text = subprocess.run([sys.executable, "-m", "qmtl_utils.models.params"], capture_output=True, text=True, check=True).stdout
    assert "HQNN-13" in text and "Extended MUStARD" in text
    records = json.loads(
        subprocess.run(
            [sys.executable, "-m", "qmtl_utils.models.params", "--json"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert {r["benchmark"] for r in records} == set(BENCHMARKS)
    assert all(r["measured"] == r["closed_form"] for r in records)
