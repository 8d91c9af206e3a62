"""Every notebook ends with exercises a course can set: an "Exercises" section just before the closing
Environment cell, two to four exercises, each stated, answered in words and checked by a code cell
whose assertions compare the answer with an independent computation. The smoke chain
(tests/test_run_all_smoke.py) executes those cells, so a wrong answer fails CI."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from qmtl_utils.runtime.paths import notebooks_dir

NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))
EXERCISE = re.compile(r"\*\*Exercise (\d+) \(")


def text(cell: dict) -> str:
    return "".join(cell["source"])


def asserts(source: str) -> int:
    """Number of ``assert`` statements in a code cell (IPython magics are not used in these cells)."""
    return sum(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(source)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_ends_with_checked_exercises(path: Path):
    cells = json.loads(path.read_text())["cells"]
    headings = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown" and re.match(r"## .*Exercises\s*$", text(c).splitlines()[0])
    ]
    assert len(headings) == 1, "one Exercises section"
    closing = cells[-2:]
    assert [c["cell_type"] for c in closing] == ["markdown", "code"] and text(closing[0]).strip() == "## Environment"
    assert "environment_report()" in text(closing[1]), "the exercises come just before the closing Environment cell"
    section = cells[headings[0] : -2]
    questions = [
        (i, int(m[1])) for i, c in enumerate(section) if c["cell_type"] == "markdown" for m in [EXERCISE.search(text(c))] if m
    ]
    assert 2 <= len(questions) <= 4, "two to four exercises"
    assert [n for _, n in questions] == list(range(1, len(questions) + 1)), "numbered 1, 2, ... in order"
    answers = [i for i, c in enumerate(section) if c["cell_type"] == "markdown" and text(c).startswith("**Answer.**")]
    assert len(answers) == len(questions), "every exercise has one answer"
    for (question, number), answer in zip(questions, answers):
        assert question < answer, f"exercise {number}: the answer comes after the question"
        check = section[answer + 1] if answer + 1 < len(section) else {"cell_type": None, "source": ""}
        assert check["cell_type"] == "code" and asserts(text(check)) >= 1, f"exercise {number}: no checking cell after its answer"


def test_asserts_counts_assert_statements():
    assert asserts("x = 1\nassert x == 1\nfor i in range(2):\n    assert i < 2") == 2
    assert asserts("print('assert')") == 0
