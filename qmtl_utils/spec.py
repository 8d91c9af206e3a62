"""The paper's three benchmarks, as plain data (Table 1, Appendix B): the one torch-free module that
the data loaders, the models and the studies all read.

One :class:`BenchmarkSpec` per benchmark names its tasks (in the paper's order), their types and
output sizes, and the head hyperparameters the paper uses. The heads themselves are built from a
spec by :mod:`qmtl_utils.models.factory`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str  # "binary" | "multiclass" | "regression"
    n_outputs: int  # logits r_t (1 for binary and regression)


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark of the paper: its tasks (in the paper's order) and its heads' hyperparameters
    (Appendix B), named after the paper's symbols (``n_qubits`` Q, ``n_layers`` L, ``task_qubits`` S_t,
    ``head_layers`` L_h).

    Taught in: 02_heads, "Notation"
    """

    name: str
    title: str
    tasks: tuple[TaskSpec, ...]
    n_qubits: int  # Q of the QMTL head (and of HQNN-Q)
    n_layers: int  # L
    task_qubits: tuple[int, ...]  # S_t
    head_layers: int = 1  # L_h
    output_scale: bool | float = False  # learnable logit scale per classification task (a number: fixed)
    entangle: bool = True  # the encoder's CNOT ladder (False: the §6.2 ablation)
    # Open choices of the paper (qmtl_utils.studies.open_choices); the defaults are its literal reading.
    encoding_order: str = "operator"  # Eq. (3) as an operator product ("written": left to right)
    angle_map: str = "identity"  # features as angles ("pi_tanh": bounded)
    hqnn_ansatz: str = "ry_ring"  # our reconstruction of Appendix B's HQNN ("ring", "ry_ladder")
    task_wires: tuple[tuple[int, ...], ...] | None = None  # None: consecutive blocks in task order

    @property
    def d(self) -> int:
        """Shared feature width d = Q·L (Eq. (12))."""
        return self.n_qubits * self.n_layers

    @property
    def task_outputs(self) -> tuple[int, ...]:
        return tuple(t.n_outputs for t in self.tasks)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)


HEAD_VARIANTS = ("classical", "hqnn4", "hqnnQ", "qmtl")

_GLUE_TASKS = (
    TaskSpec("cola", "binary", 1),
    TaskSpec("sst2", "binary", 1),
    TaskSpec("mrpc", "binary", 1),
    TaskSpec("stsb", "regression", 1),
    TaskSpec("qqp", "binary", 1),
    TaskSpec("mnli", "multiclass", 3),
    TaskSpec("qnli", "binary", 1),
    TaskSpec("rte", "binary", 1),
    TaskSpec("wnli", "binary", 1),
)

BENCHMARKS: dict[str, BenchmarkSpec] = {
    # Appendix B.1: Q=10, L=3, S_t=1 for the eight binary/regression tasks, S=2 for MNLI.
    "glue": BenchmarkSpec(
        "glue",
        "GLUE",
        _GLUE_TASKS,
        n_qubits=10,
        n_layers=3,
        task_qubits=tuple(2 if t.name == "mnli" else 1 for t in _GLUE_TASKS),
    ),
    # Appendix B.2: Q=10, L=3, five 3-class tasks on 2 qubits each, learnable temperature.
    "chexpert": BenchmarkSpec(
        "chexpert",
        "CheXpert",
        tuple(
            TaskSpec(n, "multiclass", 3) for n in ("atelectasis", "cardiomegaly", "consolidation", "edema", "pleural_effusion")
        ),
        n_qubits=10,
        n_layers=3,
        task_qubits=(2,) * 5,
        output_scale=True,
    ),
    # Appendix B.3: Q=13, L=3, S = 1, 2, 2, 4, 4.
    "mustard": BenchmarkSpec(
        "mustard",
        "Extended MUStARD",
        (
            TaskSpec("sarcasm", "binary", 1),
            TaskSpec("sentiment_implicit", "multiclass", 3),
            TaskSpec("sentiment_explicit", "multiclass", 3),
            TaskSpec("emotion_implicit", "multiclass", 9),
            TaskSpec("emotion_explicit", "multiclass", 9),
        ),
        n_qubits=13,
        n_layers=3,
        task_qubits=(1, 2, 2, 4, 4),
    ),
}


def wires_with_task_last(spec: BenchmarkSpec, task: str) -> tuple[tuple[int, ...], ...]:
    """Consecutive blocks with ``task``'s block on the last qubits and the others in task order:
    where the paper places MNLI (Appendix B.1, ``S_9 = 2``: the ninth task) on GLUE."""
    names = spec.task_names
    if task not in names:
        raise ValueError(f"{spec.name} has no task {task!r}")
    order = [t for t in range(len(names)) if names[t] != task] + [names.index(task)]
    wires, start = [None] * len(names), 0
    for t in order:
        wires[t] = tuple(range(start, start + spec.task_qubits[t]))
        start += spec.task_qubits[t]
    return tuple(wires)


def benchmark_spec(benchmark: str, spec_overrides: dict | None = None) -> BenchmarkSpec:
    """The paper's configuration of ``benchmark`` with ``spec_overrides`` applied (§6 ablations)."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; use one of {sorted(BENCHMARKS)}")
    spec = BENCHMARKS[benchmark]
    unknown = set(spec_overrides or {}) - {f.name for f in dataclasses.fields(spec)}
    if unknown:
        raise ValueError(f"unknown configuration field(s) {sorted(unknown)} for {benchmark}")
    return dataclasses.replace(spec, **(spec_overrides or {}))
