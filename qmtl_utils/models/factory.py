"""Heads built from the paper's benchmark specifications (:mod:`qmtl_utils.spec`).

:func:`make_head` is the one place where a head variant name (``classical``, ``hqnn4``, ``hqnnQ``,
``qmtl``) becomes an ``nn.Module``; the benchmark runs, the ablations, the task-scaling study and
the parameter counts all build their heads here.
"""

from __future__ import annotations

from torch import nn

from qmtl_utils.models.heads import ClassicalHeads, HQNNHead, QMTLHead
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.spec import HEAD_VARIANTS, BenchmarkSpec


def qmtl_config(spec: BenchmarkSpec, **overrides) -> QMTLConfig:
    """The paper's QMTL head for ``spec``; ``overrides`` change single fields.

    For the §6 ablations prefer ``dataclasses.replace(spec, n_layers=4)`` (or ``head_layers``,
    ``entangle``), which keeps ``d = Q·L`` and the backbone's projection in step.

    Taught in: 02_heads, "Something Eq. (3) hides: the first data layer is invisible"
    """
    fields = dict(
        n_qubits=spec.n_qubits,
        n_layers=spec.n_layers,
        task_outputs=spec.task_outputs,
        task_kinds=tuple(t.kind for t in spec.tasks),
        task_qubits=spec.task_qubits,
        head_layers=spec.head_layers,
        output_scale=spec.output_scale,
        entangle=spec.entangle,
        encoding_order=spec.encoding_order,
        angle_map=spec.angle_map,
    )
    if spec.task_wires is not None:
        fields.update(task_qubits=None, task_wires=spec.task_wires)
    fields.update(overrides)
    return QMTLConfig(**fields)


def make_head_for_config(config: QMTLConfig, variant: str, hqnn_qubits: int = 4, **kwargs) -> nn.Module:
    """Head ``variant`` on the ``d = config.d`` shared features of a QMTL architecture ``config``.

    ``classical``: :class:`ClassicalHeads` (Eq. (6)); ``hqnn4``: :class:`HQNNHead` on ``hqnn_qubits``
    qubits; ``hqnnQ``: :class:`HQNNHead` on ``Q`` qubits; ``qmtl``: :class:`QMTLHead` (Eqs. (2)-(5)).
    ``kwargs`` (e.g. ``backend``) go to the quantum heads.
    """
    if variant == "classical":
        return ClassicalHeads(config.d, config.task_outputs)
    if variant == "hqnn4":
        return HQNNHead(config.d, hqnn_qubits, config.task_outputs, **kwargs)
    if variant == "hqnnQ":
        return HQNNHead(config.d, config.n_qubits, config.task_outputs, **kwargs)
    if variant == "qmtl":
        return QMTLHead(config, **kwargs)
    raise ValueError(f"unknown head variant {variant!r}; use one of {HEAD_VARIANTS}")


def make_head(spec: BenchmarkSpec, variant: str, **kwargs) -> nn.Module:
    """Instantiate a head variant of a benchmark: ``classical``, ``hqnn4``, ``hqnnQ`` or ``qmtl``
    (the HQNN heads with ``spec.hqnn_ansatz``).

    Taught in: 02_heads, "The baselines"
    """
    if variant in ("hqnn4", "hqnnQ") and spec.hqnn_ansatz != "ry_ring":
        kwargs = {"ansatz": spec.hqnn_ansatz, **kwargs}
    return make_head_for_config(qmtl_config(spec), variant, **kwargs)
