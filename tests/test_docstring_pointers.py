"""Every function a notebook teaches says where, in one fixed line of its docstring:

    Taught in: 02_heads, "A fast exact simulator"

the notebook (``notebooks/02_heads.ipynb``) and text that one of its markdown headings (a line of a
markdown cell starting with ``#``) contains. The reader of the code goes to the section that
teaches it in one step, as d2l's "Defined in" does. This test finds every such line in the package
and checks that the notebook and the heading exist, that the line sits in a docstring, that no
other line mentions "Taught in" in another form, and that there are at least ``MIN_POINTERS`` of
them (so that it cannot pass with none)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE, NOTEBOOKS = ROOT / "qmtl_utils", ROOT / "notebooks"
POINTER = re.compile(r'^\s*Taught in: (?P<notebook>\d\d[a-z]?_\w+), "(?P<heading>[^"]+)"\s*$')
MIN_POINTERS = 90  # 100 when this test was written (02_heads, 00, 01, 03a, 03b, 04a, 04b, 05, 06)


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def docstring_pointers(path: Path) -> list[tuple[str, str, str]]:
    """``(where, notebook, heading)`` for every pointer line in the docstrings of a module (its own,
    its classes' and its functions', at any depth); a "Taught in" line of another form raises."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node, clean=False)
        for line in (doc or "").splitlines():
            if "Taught in" not in line:
                continue
            match = POINTER.match(line)
            assert match, f'{_shown(path)}: {line.strip()!r} is not `Taught in: NN_name, "heading"`'
            where = f"{_shown(path)}:{getattr(node, 'name', '<module>')}"
            out.append((where, match["notebook"], match["heading"]))
    return out


def headings(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [
        line
        for cell in cells
        if cell["cell_type"] == "markdown"
        for line in "".join(cell["source"]).splitlines()
        if line.startswith("#")
    ]


def problems(pointers, notebooks_dir: Path = NOTEBOOKS) -> list[str]:
    """What is wrong with each pointer: a notebook that does not exist, or no heading with that text."""
    out, cache = [], {}
    for where, name, heading in pointers:
        path = notebooks_dir / f"{name}.ipynb"
        if not path.is_file():
            out.append(f"{where}: no notebook {_shown(path)}")
            continue
        if name not in cache:
            cache[name] = headings(path)
        if not any(heading in line for line in cache[name]):
            out.append(f'{where}: {name} has no markdown heading containing "{heading}"')
    return out


def all_pointers() -> list[tuple[str, str, str]]:
    return [p for path in sorted(PACKAGE.rglob("*.py")) for p in docstring_pointers(path)]


def test_every_pointer_names_an_existing_notebook_heading():
    pointers = all_pointers()
    assert len(pointers) >= MIN_POINTERS, f"only {len(pointers)} 'Taught in' pointers in the package"
    assert problems(pointers) == []


def test_pointers_live_only_in_docstrings():
    """A "Taught in" line outside a docstring (a comment, a string) would not be found by the reader's
    help(); every occurrence in the source is one of the docstring pointers."""
    for path in sorted(PACKAGE.rglob("*.py")):
        in_source = sum("Taught in" in line for line in path.read_text(encoding="utf-8").splitlines())
        assert in_source == len(docstring_pointers(path)), _shown(path)


def test_the_check_catches_a_wrong_pointer(tmp_path):
    (tmp_path / "02_heads.ipynb").write_text(
        json.dumps(
            {
                "cells": [
                    {"cell_type": "markdown", "source": ["# 02 · The heads\n", "\n", "## 5. A fast exact simulator\n"]},
                    {"cell_type": "code", "source": ["# A code comment is not a heading\n"]},
                ]
            }
        )
    )
    assert problems([("f", "02_heads", "A fast exact simulator")], tmp_path) == []
    assert problems([("f", "02_heads", "A code comment")], tmp_path)  # a code cell's comment
    assert problems([("f", "02_heads", "A slow simulator")], tmp_path)
    assert problems([("f", "09_missing", "The heads")], tmp_path)
    module = tmp_path / "module.py"
    module.write_text('def f():\n    """Doc.\n\n    Taught in: 02_heads, "A fast exact simulator"\n    """\n')
    assert docstring_pointers(module) == [(f"{module}:f", "02_heads", "A fast exact simulator")]
    module.write_text('def f():\n    """Doc (Taught in 02_heads, section 5)."""\n')
    with pytest.raises(AssertionError, match="is not `Taught in"):
        docstring_pointers(module)
