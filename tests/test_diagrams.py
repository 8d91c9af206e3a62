"""The architecture diagram of 02_heads (qmtl_utils.report.diagrams): a figure with one task box
per task, on the task's own qubits, and the readout's observables named by their global wires.
No image comparison."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from qmtl_utils.report.diagrams import architecture_diagram, pauli_label, spec_config, task_boxes
from qmtl_utils.spec import BENCHMARKS


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_one_task_box_per_task(name):
    spec = BENCHMARKS[name]
    fig = architecture_diagram(spec)
    try:
        assert isinstance(fig, Figure)
        boxes = task_boxes(fig)
        assert [b.get_gid().split(":", 1)[1] for b in boxes] == list(spec.task_names)
        heights = [b.get_height() for b in boxes]  # a box spans its S_t wires (one unit apart)
        assert [round(h - 0.76) + 1 for h in heights] == list(spec.task_qubits)
    finally:
        plt.close(fig)


def test_chexpert_has_five_two_qubit_tasks_on_ten_qubits():
    config = spec_config(BENCHMARKS["chexpert"])
    assert (config.n_qubits, config.n_layers, config.task_qubits) == (10, 3, (2,) * 5)
    assert config.task_wires[1] == (2, 3)


def test_pauli_labels_use_global_wires():
    assert pauli_label("XX", (4, 5)) == "X4X5"
    assert pauli_label("IZ", (2, 3)) == "Z3"
