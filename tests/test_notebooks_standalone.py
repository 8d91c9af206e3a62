"""Each notebook on its own, as a reader opens it in JupyterLab: executed from notebooks/ top to
bottom with its default parameters (profile "demo"), no papermill, on an empty cache. A notebook
that reads an earlier notebook's results must stop at the first missing one with a
MissingCacheEntry that names the notebook to run (and run_all.sh), not with a raw traceback.

Tested here: every notebook with upstream reads in qmtl_utils/runtime/stages.py. Measured on an
empty demo cache (2 cores), each stops at its first upstream read: 01_backbones, 03_training,
03a_mustard_fit, 04_ablations, 04b_open_choices, 05_noise and 06_hardware on `data_*` (named:
00_data_prep), 07_figures on `head_parameters` (named: 02_heads). 04a_task_scaling_and_shots first
computes its own `scaling_run`/`scaling_results` (65-90 s on demo; it produces them), then stops on
`data_chexpert` for the shot study; 04b_open_choices first draws its light cones (20-60 s); the others
stop within 5-20 s (kernel start included; 2 shared cores).

Not tested here: 00_data_prep and 02_heads read nothing upstream and compute everything from
scratch; they run to the end in the smoke chain (tests/test_run_all_smoke.py).
"""

from __future__ import annotations

import os
import re
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from qmtl_utils.runtime import stages
from qmtl_utils.runtime.paths import notebooks_dir, repo_root

READERS = [s for s in stages.GRAPH if s.reads]
CELL_TIMEOUT_S = 120


def test_the_readers_are_every_notebook_but_the_two_sources():
    assert sorted({s.notebook for s in stages.GRAPH} - {s.notebook for s in READERS}) == ["00_data_prep", "02_heads"]


@pytest.mark.slow
@pytest.mark.parametrize("spec", READERS, ids=[s.notebook for s in READERS])
def test_notebook_alone_stops_naming_the_stage_to_run(spec, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    for name, folder in (
        ("QMTL_CACHE_DIR", cache),
        ("QMTL_RUNS_DIR", tmp_path / "runs"),
        ("QMTL_FIGURES_DIR", tmp_path / "figures"),
    ):
        monkeypatch.setenv(name, str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(repo_root()), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "agg")
    notebook = nbformat.read(notebooks_dir() / f"{spec.notebook}.ipynb", as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(notebooks_dir())}}
    )
    start = time.perf_counter()
    with pytest.raises(CellExecutionError):
        client.execute()
    elapsed = time.perf_counter() - start

    failed = [c for c in notebook.cells if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)]
    assert len(failed) == 1
    error = next(o for o in failed[0].outputs if o.output_type == "error")
    assert error.ename == "MissingCacheEntry", f"{spec.notebook} stopped with {error.ename}: {error.evalue}"
    missing = re.search(r"no cached '([^']+)' result", error.evalue)
    assert missing, error.evalue
    stage = missing.group(1)
    assert stage in spec.reads and stage not in spec.writes, f"{spec.notebook} looked up {stage!r}"
    for producer in stages.producers(stage):
        assert producer in error.evalue, f"the message does not name {producer}: {error.evalue}"
    assert "run_all.sh --profile demo" in error.evalue
    # nothing of anyone else's was made: at most the notebook's own stages are in the cache
    made = {p.name for p in (cache / "demo").glob("*") if any(p.glob("*/manifest.json"))}
    assert made <= set(spec.writes), f"{spec.notebook} wrote {sorted(made - set(spec.writes))}"
    print(f"{spec.notebook}: stopped after {elapsed:.1f} s on {stage!r}: {error.evalue}")
