"""Notebooks a reviewer can diff: each notebook is paired with a py:percent script (jupytext.toml)
that matches it, committed without outputs (scripts/check_notebooks.py, also a pre-commit hook),
and the pre-commit hooks resolve to the pinned tools of the environment."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qmtl_utils.runtime.paths import notebooks_dir

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(notebooks_dir().glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import check_notebooks  # noqa: E402


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_paired_clean_and_in_sync(path):
    assert check_notebooks.problems(path) == []


def test_every_paired_script_has_its_notebook():
    scripts = {p.stem for p in notebooks_dir().glob("*.py")}
    assert scripts == {p.stem for p in NOTEBOOKS}


def test_the_check_finds_outputs_and_a_stale_script(tmp_path):
    source = NOTEBOOKS[0]
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    shutil.copy(source.with_suffix(".py"), copy.with_suffix(".py"))
    assert check_notebooks.main([str(copy)]) == 0
    notebook = json.loads(copy.read_text())
    cell = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]
    copy.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    found = check_notebooks.problems(copy)
    assert len(found) == 1 and "carry outputs" in found[0]
    copy.with_suffix(".py").write_text(copy.with_suffix(".py").read_text() + "x = 1\n")
    assert any("out of sync" in line for line in check_notebooks.problems(copy))
    copy.with_suffix(".py").unlink()
    assert any("no paired script" in line for line in check_notebooks.problems(copy))
    assert check_notebooks.main([str(copy)]) == 1


def test_pre_commit_hooks_resolve_to_the_environment():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert set(hooks) == {"ruff", "ruff-format", "jupytext-sync", "notebook-outputs"}
    bin_dir = Path(sys.executable).parent
    for hook in hooks.values():
        command = hook["entry"].split()
        assert shutil.which(command[0], path=str(bin_dir)), f"{hook['id']}: {command[0]} is not in {bin_dir}"
        if command[0] == "python":
            assert (ROOT / command[1]).exists()
    result = subprocess.run([str(bin_dir / "jupytext"), "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip()
