"""Notebook hygiene: numbered names, no committed outputs, one typed `parameters` cell that
declares `profile`, and the standard opening (title + setup call) of the companion's style."""

import json
from pathlib import Path

import pytest

from qmtl_utils.runtime.paths import notebooks_dir

NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))


def test_notebooks_exist_in_order():
    names = [p.stem for p in NOTEBOOKS]
    assert names and names == sorted(names)
    assert all(name[:2].isdigit() and "_" in name for name in names)
    assert names[-1].startswith("07_figures")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_parameterised(path: Path):
    notebook = json.loads(path.read_text())
    cells = notebook["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "commit notebooks without outputs"
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    source = "".join(tagged[0]["source"])
    assert 'profile: str = "demo"' in source
    assert all("#" in line for line in source.splitlines() if "=" in line), "comment every parameter"
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    assert any("setup_notebook(" in "".join(c["source"]) for c in code)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_can_read_every_parameter(path: Path):
    """papermill's parser (used for `-p` and notebook inspection) must understand each line;
    it silently drops lines with unsupported annotations or quotes in the comment."""
    from papermill.translators import PythonTranslator

    cell = next(c for c in json.loads(path.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
    source = "".join(cell["source"])
    declared = [line.split(":")[0].split("=")[0].strip() for line in source.splitlines() if "=" in line]
    assert [p.name for p in PythonTranslator.inspect({"source": source})] == declared
