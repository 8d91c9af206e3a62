"""The paper-equation index (python -m qmtl_utils.equations): every listed equation resolves to
existing code whose docstring names it, spelled one way."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qmtl_utils.equations import EQUATIONS, resolve, source_file

ROOT = Path(__file__).resolve().parents[1]


def named_equations(doc: str) -> set[int]:
    """Equation numbers a docstring names: ``Eq. (N)``, ``Eqs. (A)-(B)`` (a range), ``Eqs. (A), (B)``."""
    out = set()
    for match in re.finditer(r"Eqs?\. (\(\d+\)(?:(?:-|, | and )\(\d+\))*)", doc):
        body = match.group(1)
        numbers = [int(n) for n in re.findall(r"\d+", body)]
        out.update(numbers)
        for a, b in re.findall(r"\((\d+)\)-\((\d+)\)", body):
            out.update(range(int(a), int(b) + 1))
    return out


@pytest.mark.parametrize("number", sorted(EQUATIONS))
def test_each_equation_resolves_to_code_that_names_it(number):
    _, target = EQUATIONS[number]
    obj = resolve(target)
    doc = inspect.getdoc(obj.fget if isinstance(obj, property) else obj) or ""
    assert number in named_equations(doc), f"{target}'s docstring does not name Eq. ({number})"
    assert (ROOT / source_file(target)).is_file()


def test_equations_are_spelled_one_way():
    odd = re.compile(r"\bEqs?\.?\s?\d|\bEqs?\.?\s\(\d+\)[–]|\bEq\s\(")
    for path in sorted((ROOT / "qmtl_utils").rglob("*.py")) + [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not odd.search(line), f"{path.relative_to(ROOT)}:{n}: write equations as `Eq. (N)`: {line.strip()}"


def test_named_equations_parser():
    assert named_equations("Eqs. (2)-(5) and Eq. (12); Eqs. (8), (11)") == {2, 3, 4, 5, 8, 11, 12}


@pytest.mark.slow
def test_cli_prints_the_index():
    out = subprocess.run([sys.executable, "-m", "qmtl_utils.equations"], capture_output=True, text=True, check=True).stdout
    assert "qmtl_utils/training/losses.py" in out and len(out.strip().splitlines()) == len(EQUATIONS) + 1


@pytest.mark.slow
def test_docs_show_the_index():
    out = subprocess.run([sys.executable, "-m", "qmtl_utils.equations"], capture_output=True, text=True, check=True).stdout
    assert out in (ROOT / "docs" / "equations.md").read_text(encoding="utf-8"), (
        "paste `python -m qmtl_utils.equations` into docs/equations.md"
    )
