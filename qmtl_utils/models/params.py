"""Trainable head parameters: counted on instantiated modules and in closed form (§4.2, Theorem 1).

    python -m qmtl_utils.models.params          # the paper's three head configurations, with ratios
    python -m qmtl_utils.models.params --json   # the same, machine-readable

Closed forms (``k_θ = 3``: a ``StronglyEntanglingLayers`` rotation has three angles):

* classical, Eq. (8): ``P_C = Σ_t r_t (d + 1)`` (``= T r (d + 1)`` for equal ``r``);
* QMTL circuit, Eq. (11): ``P_Q = Q L + Σ_t k_θ S_t L_h``; plus the optional output calibration
  (one scale per classification task, ``β, γ`` per regression task);
* HQNN: ``3 (d + 1)`` projection + ``3 Q`` circuit angles + 1 scale + ``Σ_t r_t (Q + 1)``;
* capacity matched (``d = S T L``, ``Q = S T``), Eqs. (15)-(17):
  ``P_C = T r (S T L + 1)``, ``P_Q = S T (L + k_θ L_h)``, ``P_Q / P_C ≈ (L + k_θ L_h) / (L r T)``.
"""

from __future__ import annotations

import argparse
import json
from typing import Iterable, Sequence

from torch import nn

from qmtl_utils.models.factory import make_head, qmtl_config
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.spec import BENCHMARKS, HEAD_VARIANTS

K_THETA = 3


def count_trainable(module: nn.Module) -> int:
    """Number of trainable scalars in ``module``.

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def classical_head_params(d: int, task_outputs: Sequence[int]) -> int:
    """Eqs. (7)-(8): one linear layer ``r_t x d`` plus bias per task, ``r_t (d + 1)`` each.

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    return sum(r * (d + 1) for r in task_outputs)


def qmtl_circuit_params(
    n_qubits: int, n_layers: int, task_qubits: Sequence[int], head_layers: int, k_theta: int = K_THETA
) -> int:
    """Eq. (11): shared encoder ``Q L`` (Eq. (9)) + ``k_θ S_t L_h`` per task (Eq. (10)).

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    return n_qubits * n_layers + sum(k_theta * s * head_layers for s in task_qubits)


def qmtl_calibration_params(config: QMTLConfig) -> int:
    """Output calibration: one scale per classification task (if learnable: ``output_scale=True``;
    a fixed factor is no parameter), ``(β, γ)`` per regression task.

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    n_regression = config.task_kinds.count("regression")
    n_scales = (config.n_tasks - n_regression) if config.output_scale is True else 0
    return n_scales + 2 * n_regression


def qmtl_head_params(config: QMTLConfig) -> int:
    """All trainable parameters of a :class:`~qmtl_utils.models.heads.QMTLHead`.

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    circuit = qmtl_circuit_params(config.n_qubits, config.n_layers, config.task_qubits, config.head_layers)
    return circuit + qmtl_calibration_params(config)


def hqnn_head_params(d: int, n_qubits: int, task_outputs: Sequence[int], n_repeats: int = 3, ansatz: str = "ry_ring") -> int:
    """HQNN baseline: projection to 3, circuit angles (none for the ``"ring"`` ansatz), output
    scale, per-task linear layers.

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    circuit = 0 if ansatz == "ring" else n_repeats * n_qubits
    return 3 * (d + 1) + circuit + 1 + sum(r * (n_qubits + 1) for r in task_outputs)


def capacity_matched_classical(n_tasks: int, task_qubits: int, n_layers: int, outputs: int) -> int:
    """Eq. (15): ``T r (S T L + 1)``.

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    return n_tasks * outputs * (task_qubits * n_tasks * n_layers + 1)


def capacity_matched_qmtl(n_tasks: int, task_qubits: int, n_layers: int, head_layers: int, k_theta: int = K_THETA) -> int:
    """Eq. (16): ``S T (L + k_θ L_h)``.

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    return task_qubits * n_tasks * (n_layers + k_theta * head_layers)


def capacity_matched_ratio(n_tasks: int, n_layers: int, head_layers: int, outputs: int, k_theta: int = K_THETA) -> float:
    """Eq. (17), leading order: ``(L + k_θ L_h) / (L r T)``.

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    return (n_layers + k_theta * head_layers) / (n_layers * outputs * n_tasks)


def benchmark_table():
    """Head parameters of the paper's three configurations: measured and closed form, with ratios.

    One row per benchmark and head variant; ``measured`` comes from instantiating the module.

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    import pandas as pd

    rows = []
    for spec in BENCHMARKS.values():
        config = qmtl_config(spec)
        closed = {
            "classical": classical_head_params(spec.d, spec.task_outputs),
            "hqnn4": hqnn_head_params(spec.d, 4, spec.task_outputs),
            "hqnnQ": hqnn_head_params(spec.d, spec.n_qubits, spec.task_outputs),
            "qmtl": qmtl_head_params(config),
        }
        for variant in HEAD_VARIANTS:
            head = make_head(spec, variant)
            qubits = {"classical": 0, "hqnn4": 4}.get(variant, spec.n_qubits)
            rows.append(
                {
                    "benchmark": spec.name,
                    "title": spec.title,
                    "variant": variant,
                    "label": variant_label(variant, spec.n_qubits),
                    "n_tasks": len(spec.tasks),
                    "d": spec.d,
                    "qubits": qubits,
                    "measured": count_trainable(head),
                    "closed_form": closed[variant],
                }
            )
    table = pd.DataFrame(rows)
    qmtl = table[table.variant == "qmtl"].set_index("benchmark")["measured"]
    table["ratio_to_qmtl"] = table["measured"] / table["benchmark"].map(qmtl)
    return table


def variant_label(variant: str, n_qubits: int) -> str:
    """Display name of a head variant, e.g. ``HQNN-10``."""
    return {"classical": "Classical", "hqnn4": "HQNN-4", "hqnnQ": f"HQNN-{n_qubits}", "qmtl": "QMTL"}[variant]


def scaling_table(tasks: Iterable[int], task_qubits: int = 2, outputs_per_task: int = 3, n_layers: int = 3, head_layers: int = 1):
    """Capacity-matched sweep of Theorem 1 (Fig. 2): for each ``T``, ``d = S T L`` and ``Q = S T``.

    Counts come from instantiated heads (no state vector is allocated, so ``Q`` may be large)
    and are listed next to Eqs. (15)-(17).

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    import pandas as pd

    from qmtl_utils.models.heads import ClassicalHeads

    rows = []
    for n_tasks in tasks:
        n_qubits = task_qubits * n_tasks
        d = n_qubits * n_layers
        config = QMTLConfig(
            n_qubits, n_layers, (outputs_per_task,) * n_tasks, task_qubits=(task_qubits,) * n_tasks, head_layers=head_layers
        )
        classical = count_trainable(ClassicalHeads(d, config.task_outputs))
        quantum = count_trainable(QMTLHead(config))
        rows.append(
            {
                "n_tasks": n_tasks,
                "d": d,
                "n_qubits": n_qubits,
                "task_qubits": task_qubits,
                "outputs_per_task": outputs_per_task,
                "n_layers": n_layers,
                "head_layers": head_layers,
                "classical_measured": classical,
                "qmtl_measured": quantum,
                "classical_eq15": capacity_matched_classical(n_tasks, task_qubits, n_layers, outputs_per_task),
                "qmtl_eq16": capacity_matched_qmtl(n_tasks, task_qubits, n_layers, head_layers),
                "ratio_measured": quantum / classical,
                "ratio_eq17": capacity_matched_ratio(n_tasks, n_layers, head_layers, outputs_per_task),
            }
        )
    return pd.DataFrame(rows)


PARAMETER_STAGE = "head_parameters"


def parameter_count_tables(cache, scaling: dict, *, compute: bool = True):
    """The cache entry holding the parameter-count tables: ``head_parameters.csv`` (every head of
    every benchmark counted against its closed form, Fig. 4) and ``param_scaling.csv`` (Eqs. (15)-(17)
    against counted heads as the number of tasks grows, Fig. 2).

    ``scaling`` holds :func:`scaling_table`'s arguments (a profile's ``scaling`` settings).
    With ``compute=True`` (the heads notebook) it counts and caches them on a miss; with
    ``compute=False`` (the figures notebook) it only looks them up.

    Taught in: 02_heads, "Counting parameters (§4.2, Theorem 1)"
    """
    from qmtl_utils.runtime.cache import write_csv
    from qmtl_utils.runtime.fingerprint import code_fingerprint

    def write(folder):
        write_csv(benchmark_table(), folder / "head_parameters.csv")
        write_csv(scaling_table(**scaling), folder / "param_scaling.csv")

    params = {"scaling": scaling}
    if compute:
        return cache.get_or_compute(PARAMETER_STAGE, params, write, code_version=code_fingerprint(__name__))
    return cache.lookup(PARAMETER_STAGE, params, code_version=code_fingerprint(__name__))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Trainable head parameters of the paper's configurations.")
    parser.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    args = parser.parse_args(argv)
    table = benchmark_table()
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=2))
        return
    for name, group in table.groupby("benchmark", sort=False):
        spec = BENCHMARKS[name]
        print(
            f"{spec.title}: T={len(spec.tasks)} tasks, d={spec.d}, QMTL Q={spec.n_qubits}, L={spec.n_layers}, "
            f"S_t={list(spec.task_qubits)}, L_h={spec.head_layers}"
        )
        for row in group.itertuples():
            print(f"  {row.label:<10} {row.measured:>6} parameters  ({row.ratio_to_qmtl:4.1f}x QMTL)")


if __name__ == "__main__":
    main()
