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
# being rewritten in its own change (issue 23, item 2), whose exercises land with it
PENDING = {"03_training"}


def text(cell: dict) -> str:
    return "".join(cell["source"])


def asserts(source: str) -> int:
    """Number of ``assert`` statements in a code cell (IPython magics are not used in these cells)."""
    return sum(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(source)))


def test_every_notebook_but_the_pending_one_is_checked():
    assert PENDING <= {p.stem for p in NOTEBOOKS}, "a pending notebook was renamed: update PENDING"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem not in PENDING], ids=lambda p: p.stem)
def test_notebook_ends_with_checked_exercises(path: Path):
    cells = json.loads(path.read_text())["cells"]
    headings = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                and re.match(r"## .*Exercises\s*$", text(c).splitlines()[0])]
    assert len(headings) == 1, "one Exercises section"
    closing = cells[-2:]
    assert [c["cell_type"] for c in closing] == ["markdown", "code"] and text(closing[0]).strip() == "## Environment"
    assert "environment_report()" in text(closing[1]), "the exercises come just before the closing Environment cell"
    section = cells[headings[0] + 1:-2]
    assert len(section) % 3 == 0 and 2 <= len(section) // 3 <= 4, "two to four exercises, three cells each"
    for number, (question, answer, check) in enumerate(zip(section[::3], section[1::3], section[2::3]), start=1):
        assert question["cell_type"] == "markdown" and text(question).startswith(f"**Exercise {number} ("), text(question)
        assert answer["cell_type"] == "markdown" and text(answer).startswith("**Answer.**"), text(answer)
        assert check["cell_type"] == "code" and asserts(text(check)) >= 1, f"exercise {number}: its check asserts nothing"


def test_asserts_counts_assert_statements():
    assert asserts("x = 1\nassert x == 1\nfor i in range(2):\n    assert i < 2") == 2
    assert asserts("print('assert')") == 0
