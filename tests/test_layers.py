"""The package's layers and the direction of its imports (docs/layout.md).

``qmtl_utils`` is a stack of layers; a module may import from its own layer and the layers below,
never from one above. Imports are read from the source (module level and inside functions); those
under ``if TYPE_CHECKING:`` are annotations only.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from qmtl_utils.runtime.fingerprint import _imported_names

PACKAGE = Path(__file__).resolve().parents[1] / "qmtl_utils"
# bottom to top
LAYERS = ("spec", "runtime", "data", "quantum", "models", "training", "report", "studies", "notebook", "equations")


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # the package itself: imported by everything
        return -1
    if parts[1] not in LAYERS:
        raise AssertionError(f"{module} is in no layer; put it in one of {LAYERS} (tests/test_layers.py)")
    return LAYERS.index(parts[1])


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Imports in ``source`` (the code of ``module``) that reach a higher layer."""
    out = []
    for name in sorted(_imported_names(ast.parse(source), module, is_package)):
        if name.split(".")[0] != "qmtl_utils" or name == "qmtl_utils.__version__":
            continue
        target = ".".join(name.split(".")[:2])
        if layer(target) > layer(module):
            out.append(f"{module} imports {name} (layer {LAYERS[layer(target)]} above {LAYERS[layer(module)]})")
    return out


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_imports_only_flow_down(path):
    assert violations(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py") == []


def test_the_checker_catches_an_upward_import():
    assert violations("from qmtl_utils.models.heads import QMTLHead\n", "qmtl_utils.quantum.aer_noise")
    assert violations("def f():\n    from ..studies import ablations\n", "qmtl_utils.training.glue")
    assert not violations(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from qmtl_utils.models.heads import QMTLHead\n",
        "qmtl_utils.quantum.aer_noise",
    )
    assert not violations("from qmtl_utils.quantum.config import QMTLConfig\n", "qmtl_utils.models.heads")


def test_every_module_is_in_a_layer():
    for path in MODULES:
        layer(module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_no_library_module_names_a_notebook(path):
    if module_name(path) == "qmtl_utils.runtime.stages":  # the one place that maps stages to notebooks
        return
    assert not re.search(r"notebooks/\d\d[a-z]?_\w+\.ipynb", path.read_text(encoding="utf-8")), (
        f"{path.name} names a notebook path; ask qmtl_utils.runtime.stages instead"
    )


def test_spec_and_text_loaders_import_neither_torch_nor_pennylane():
    import subprocess
    import sys

    code = (
        "import sys, qmtl_utils.spec, qmtl_utils.data.glue, qmtl_utils.data.mustard, qmtl_utils.runtime.stages; "
        "print(sorted(m for m in ('torch', 'pennylane', 'qiskit') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
