"""The stage graph (qmtl_utils/runtime/stages.py) is the one description of which notebook writes
and reads which cached results: the notebooks on disk, their **Reads:**/**Writes:** text and the
pipeline's executions must all agree with it."""

from __future__ import annotations

import json
import re

import pytest

from qmtl_utils.runtime import paths, pipeline, stages

NOTEBOOKS = paths.notebooks_dir()
KNOWN = set(stages.cache_stages()) | {stages.FIGURES}


def declared_io(notebook: str) -> tuple[set[str], set[str]]:
    """Cache stages named in backticks in a notebook's **Reads:** and **Writes:** text."""
    cells = json.loads((NOTEBOOKS / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
    text = next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown" and "**Reads:**" in "".join(c["source"]))
    reads_text, writes_text = text.split("**Reads:**", 1)[1].split("**Writes:**", 1)
    writes_text = writes_text.split("\n\n", 1)[0]
    named = lambda part: {t for t in re.findall(r"`([^`]+)`", part) if t in KNOWN}  # noqa: E731
    return named(reads_text), named(writes_text)


def test_the_notebooks_on_disk_are_the_declared_stages():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == [s.notebook for s in stages.GRAPH]


@pytest.mark.parametrize("spec", stages.GRAPH, ids=[s.notebook for s in stages.GRAPH])
def test_reads_and_writes_text_matches_the_graph(spec):
    reads, writes = declared_io(spec.notebook)
    assert reads == set(spec.reads), f"{spec.path}: **Reads:** text names {sorted(reads)}"
    assert writes == set(spec.writes), f"{spec.path}: **Writes:** text names {sorted(writes)}"


def test_every_read_is_written_by_an_earlier_stage():
    written: set[str] = set()
    for spec in stages.GRAPH:
        assert set(spec.reads) <= written, f"{spec.notebook} reads {sorted(set(spec.reads) - written)} before any stage writes it"
        written |= set(spec.writes)


def test_pipeline_takes_runs_and_upstream_from_the_graph():
    loaded = {s.stem: s for s in pipeline.load_stages(NOTEBOOKS, "smoke")}
    assert [r.params for r in loaded["03_training"].runs] == [
        {"profile": "smoke", "benchmark": b} for b in ("glue", "chexpert", "mustard")
    ]
    assert stages.upstream("05_noise") == ("00_data_prep", "03_training", "04_ablations", "04b_open_choices")
    assert stages.upstream("02_heads") == ()
    assert stages.producers("run_chexpert") == (
        "notebooks/03_training.ipynb",
        "notebooks/04_ablations.ipynb",
        "notebooks/04b_open_choices.ipynb",
    )
    with pytest.raises(ValueError, match="stages.py"):
        stages.producers("no_such_stage")


def test_a_missing_result_names_its_producer(tmp_path):
    from qmtl_utils.runtime.cache import Cache, MissingCacheEntry

    with pytest.raises(MissingCacheEntry, match="notebooks/05_noise.ipynb"):
        Cache(tmp_path / "smoke").lookup("noise_chexpert", {"a": 1})
