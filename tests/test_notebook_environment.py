"""JupyterLab as the reader sees it: a progress bar in a notebook is a widget (ipywidgets is in the
pinned environment), not tqdm's "TqdmWarning: IProgress not found. Please update jupyter and
ipywidgets"; and the scanner that tests/test_run_all_smoke.py runs over every executed notebook
(tests/notebook_warnings.py) tells the companion's own warnings from the environment's."""

from __future__ import annotations

import re
from importlib import metadata

import nbformat
import pytest
from nbclient import NotebookClient
from notebook_warnings import environment_warnings, own_categories

from qmtl_utils.runtime.paths import repo_root

WIDGET = "application/vnd.jupyter.widget-view+json"


def notebook_with(*outputs: dict) -> dict:
    return {"cells": [{"cell_type": "code", "source": "", "outputs": list(outputs)}]}


def stream(name: str, text: str) -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def test_ipywidgets_is_pinned_and_installed():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (repo_root() / "requirements.txt").read_text(), re.M))
    assert "ipywidgets" in pins, "requirements.txt must pin ipywidgets (tqdm's notebook progress bar needs it)"
    assert metadata.version("ipywidgets") == pins["ipywidgets"], "run `bash scripts/setup.sh`"


def test_own_categories_are_the_package_warnings():
    assert {"UserWarning", "RandomInitWarning", "CacheCorruptionWarning"} <= own_categories()
    assert "FutureWarning" not in own_categories()


def test_scanner_keeps_deliberate_messages_and_reports_the_environment():
    deliberate = stream(
        "stderr",
        "/repo/qmtl_utils/models/backbones/chexpert.py:82: RandomInitWarning: DenseNet121 "
        "ImageNet weights unavailable: the backbone is RANDOMLY initialised\n"
        "  warnings.warn(\n",
    )
    tqdm = stream(
        "stderr",
        "/repo/.venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: IProgress not "
        "found. Please update jupyter and ipywidgets.\n  from .autonotebook import tqdm\n",
    )
    deprecation = stream(
        "stderr", "/repo/qmtl_utils/data/glue.py:10: FutureWarning: a pandas default will change\n  frame = pd.read_csv(path)\n"
    )
    installed = stream("stderr", "/x/site-packages/qmtl_utils/cache.py:5: UserWarning: from an installed copy\n")
    logged = stream("stdout", "[transformers] WARNING | something about the configuration\n")
    plain = stream("stdout", "fold-1 QMTL head; 8 of 8 test samples\n")
    assert environment_warnings(notebook_with(deliberate, plain)) == []
    found = environment_warnings(notebook_with(deliberate, tqdm, deprecation, installed, logged))
    assert [line.split(": ", 1)[1].split(":")[0] for line in found[:3]] == [
        "/repo/.venv/lib/python3.11/site-packages/tqdm/auto.py",
        "/repo/qmtl_utils/data/glue.py",
        "/x/site-packages/qmtl_utils/cache.py",
    ]
    assert len(found) == 4 and "WARNING | something" in found[3]


def run_cells(*sources: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    return notebook


@pytest.mark.slow
def test_a_progress_bar_is_a_widget_not_a_warning():
    shown = run_cells("from tqdm.auto import tqdm\nfor _ in tqdm(range(3)):\n    pass")
    outputs = shown.cells[0].outputs
    assert environment_warnings(shown) == []
    assert any(WIDGET in o.get("data", {}) for o in outputs), outputs
    # the same cell where ipywidgets cannot be imported: the warning the scanner must catch
    bare = run_cells(
        "import sys\nsys.modules['ipywidgets'] = None", "from tqdm.auto import tqdm\nfor _ in tqdm(range(3)):\n    pass"
    )
    assert any("TqdmWarning: IProgress not found" in line for line in environment_warnings(bare))
