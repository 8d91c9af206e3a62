"""Pre-commit check: notebooks are committed without outputs or execution counts, and each is in
sync with its paired py:percent script (jupytext.toml). Exit status 1 names every offender.

    python scripts/check_notebooks.py notebooks/*.ipynb
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def problems(path: Path) -> list[str]:
    """What is wrong with one committed notebook (empty: nothing)."""
    import jupytext

    found = []
    notebook = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        i for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    if dirty:
        found.append(f"{path}: cells {dirty} carry outputs: clear them (JupyterLab: Edit > Clear Outputs of All Cells)")
    script = path.with_suffix(".py")
    if not script.exists():
        found.append(f"{path}: no paired script {script.name}: run `jupytext --sync {path}`")
    elif script.read_text(encoding="utf-8") != jupytext.writes(jupytext.read(path), fmt="py:percent"):
        found.append(f"{path}: {script.name} is out of sync: run `jupytext --sync {path}` (the newer file wins)")
    return found


def main(paths: list[str]) -> int:
    notebooks = [Path(p) for p in paths if p.endswith(".ipynb")]
    notebooks += [Path(p).with_suffix(".ipynb") for p in paths if p.endswith(".py") and Path(p).with_suffix(".ipynb").exists()]
    found = [line for path in dict.fromkeys(notebooks) for line in problems(path)]
    if found:
        print("\n".join(found))
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
