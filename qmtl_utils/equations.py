"""The paper's equations and the one function that implements each (the reference where several
compute the same quantity: faster paths are tested against it).

    python -m qmtl_utils.equations          # equation -> function -> file

Every entry's docstring names its equation as ``Eq. (N)``; tests/test_equations.py checks that
each entry resolves to existing code that says so. Eqs. (18)-(20) are not implemented here: (18) is
a special case of Eqs. (17), (19) names the Hilbert space and (20) is PennyLane's parameter-shift
rule, which the tests use as the gradient reference.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

# N -> (what it is, "module:qualified.name")
EQUATIONS: dict[int, tuple[str, str]] = {
    1: ("multi-task loss Σ_t λ_t L_t", "qmtl_utils.training.losses:multitask_loss"),
    2: ("initial state H^⊗Q |0>", "qmtl_utils.quantum.pennylane_circuits:qmtl_encoder"),
    3: ("encoder: L layers of U_param,ℓ U_enc,ℓ", "qmtl_utils.quantum.pennylane_circuits:qmtl_encoder"),
    4: ("multi-observable task readout o_t", "qmtl_utils.quantum.pennylane_circuits:qmtl_circuit"),
    5: ("task logits = expectation values", "qmtl_utils.models.heads:QMTLHead.expectation_values"),
    6: ("classical task head W_t Z + b_t", "qmtl_utils.models.heads:ClassicalHeads"),
    7: ("one classical task head r (d + 1)", "qmtl_utils.models.params:classical_head_params"),
    8: ("classical head parameters P_C = T r (d + 1)", "qmtl_utils.models.params:classical_head_params"),
    9: ("shared encoder parameters Q L", "qmtl_utils.models.params:qmtl_circuit_params"),
    10: ("task block parameters S L_h k_θ", "qmtl_utils.models.params:qmtl_circuit_params"),
    11: ("QMTL parameters P_Q = Q L + T k_θ S L_h", "qmtl_utils.models.params:qmtl_circuit_params"),
    12: ("feature width d = Q L", "qmtl_utils.quantum.config:QMTLConfig.d"),
    13: ("register width Q = S T", "qmtl_utils.studies.task_scaling:capacity_matched_config"),
    14: ("capacity matching d = S T L", "qmtl_utils.studies.task_scaling:capacity_matched_config"),
    15: ("capacity-matched P_C, O(T²)", "qmtl_utils.models.params:capacity_matched_classical"),
    16: ("capacity-matched P_Q, O(T)", "qmtl_utils.models.params:capacity_matched_qmtl"),
    17: ("ratio P_Q / P_C → 0", "qmtl_utils.models.params:capacity_matched_ratio"),
    21: ("masked max-pooling over tokens", "qmtl_utils.models.backbones.glue:GlueBackbone.pool"),
    22: ("sentence-pair features [s1; s2; |s1-s2|; s1⊙s2]", "qmtl_utils.models.backbones.glue:GlueBackbone.forward"),
    23: ("inverse-frequency class weights", "qmtl_utils.training.losses:inverse_frequency_weights"),
    24: ("focal loss", "qmtl_utils.training.losses:FocalLoss"),
    25: ("3-class output to a positive probability", "qmtl_utils.training.metrics:binary_positive_probability"),
}


def resolve(target: str):
    """The object ``module:qualified.name`` points at."""
    module_name, _, qualname = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def source_file(target: str) -> str:
    """Repository-relative file of an index entry."""
    obj = resolve(target)
    obj = obj.fget if isinstance(obj, property) else obj
    path = Path(inspect.getsourcefile(inspect.unwrap(obj))).resolve()
    return path.relative_to(Path(__file__).resolve().parents[1]).as_posix()


def main() -> None:
    print(f"{'Eq.':<6} {'what':<50} {'function':<45} file")
    for number, (what, target) in EQUATIONS.items():
        print(f"({number:>2})  {what:<50} {target.split(':')[1]:<45} {source_file(target)}")


if __name__ == "__main__":
    main()
    sys.exit(0)
