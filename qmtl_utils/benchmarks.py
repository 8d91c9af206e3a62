"""The paper's three benchmarks as head configurations (Table 1, Appendix B).

One :class:`BenchmarkSpec` per benchmark names its tasks (in the paper's order), their types and
output sizes, and the head hyperparameters the paper uses. Data loading and protocols build on
these specs in later modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from .heads import ClassicalHeads, HQNNHead, QMTLConfig, QMTLHead


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str  # "binary" | "multiclass" | "regression"
    n_outputs: int  # logits r_t (1 for binary and regression)


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    title: str
    tasks: tuple[TaskSpec, ...]
    n_qubits: int  # Q of the QMTL head (and of HQNN-Q)
    n_layers: int  # L
    task_qubits: tuple[int, ...]  # S_t
    head_layers: int = 1  # L_h
    output_scale: bool = False  # learnable logit scale per classification task
    entangle: bool = True  # the encoder's CNOT ladder (False: the §6.2 ablation)

    @property
    def d(self) -> int:
        """Shared feature width d = Q·L (Eq. 12)."""
        return self.n_qubits * self.n_layers

    @property
    def task_outputs(self) -> tuple[int, ...]:
        return tuple(t.n_outputs for t in self.tasks)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    def qmtl_config(self, **overrides) -> QMTLConfig:
        """The paper's QMTL head for this benchmark; ``overrides`` change single fields.
        For the §6 ablations prefer ``dataclasses.replace(spec, n_layers=4)`` (or ``head_layers``,
        ``entangle``), which keeps ``d = Q·L`` and the backbone's projection in step."""
        fields = dict(n_qubits=self.n_qubits, n_layers=self.n_layers, task_outputs=self.task_outputs,
                      task_kinds=tuple(t.kind for t in self.tasks), task_qubits=self.task_qubits,
                      head_layers=self.head_layers, output_scale=self.output_scale, entangle=self.entangle)
        fields.update(overrides)
        return QMTLConfig(**fields)

    def make_head(self, variant: str, **kwargs):
        """Instantiate a head variant: ``classical``, ``hqnn4``, ``hqnnQ`` or ``qmtl``."""
        if variant == "classical":
            return ClassicalHeads(self.d, self.task_outputs)
        if variant == "hqnn4":
            return HQNNHead(self.d, 4, self.task_outputs, **kwargs)
        if variant == "hqnnQ":
            return HQNNHead(self.d, self.n_qubits, self.task_outputs, **kwargs)
        if variant == "qmtl":
            return QMTLHead(self.qmtl_config(), **kwargs)
        raise ValueError(f"unknown head variant {variant!r}; use one of {HEAD_VARIANTS}")


HEAD_VARIANTS = ("classical", "hqnn4", "hqnnQ", "qmtl")

_GLUE_TASKS = (
    TaskSpec("cola", "binary", 1), TaskSpec("sst2", "binary", 1), TaskSpec("mrpc", "binary", 1),
    TaskSpec("stsb", "regression", 1), TaskSpec("qqp", "binary", 1), TaskSpec("mnli", "multiclass", 3),
    TaskSpec("qnli", "binary", 1), TaskSpec("rte", "binary", 1), TaskSpec("wnli", "binary", 1),
)

BENCHMARKS: dict[str, BenchmarkSpec] = {
    # Appendix B.1: Q=10, L=3, S_t=1 for the eight binary/regression tasks, S=2 for MNLI.
    "glue": BenchmarkSpec(
        "glue", "GLUE", _GLUE_TASKS, n_qubits=10, n_layers=3,
        task_qubits=tuple(2 if t.name == "mnli" else 1 for t in _GLUE_TASKS),
    ),
    # Appendix B.2: Q=10, L=3, five 3-class tasks on 2 qubits each, learnable temperature.
    "chexpert": BenchmarkSpec(
        "chexpert", "CheXpert",
        tuple(TaskSpec(n, "multiclass", 3) for n in
              ("atelectasis", "cardiomegaly", "consolidation", "edema", "pleural_effusion")),
        n_qubits=10, n_layers=3, task_qubits=(2,) * 5, output_scale=True,
    ),
    # Appendix B.3: Q=13, L=3, S = 1, 2, 2, 4, 4.
    "mustard": BenchmarkSpec(
        "mustard", "Extended MUStARD",
        (TaskSpec("sarcasm", "binary", 1), TaskSpec("sentiment_implicit", "multiclass", 3),
         TaskSpec("sentiment_explicit", "multiclass", 3), TaskSpec("emotion_implicit", "multiclass", 9),
         TaskSpec("emotion_explicit", "multiclass", 9)),
        n_qubits=13, n_layers=3, task_qubits=(1, 2, 2, 4, 4),
    ),
}
