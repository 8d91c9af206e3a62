"""The stage graph as a Mermaid diagram (qmtl_utils.report.stage_graph): the one in the README is
the one qmtl_utils/runtime/stages.py gives today, it names every stage, and its arrows say exactly
which stages depend on which (no more arrows than needed, none missing)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from qmtl_utils.report import stage_graph
from qmtl_utils.runtime import stages
from qmtl_utils.runtime.paths import repo_root

DOCS = [repo_root() / "README.md"]  # the files that hold the diagram


def committed(path) -> str:
    text = path.read_text(encoding="utf-8")
    return text[text.index(stage_graph.BEGIN) : text.index(stage_graph.END) + len(stage_graph.END)]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_the_committed_diagram_is_current(path):
    assert committed(path) == stage_graph.block(), f"run `{stage_graph.COMMAND}`"
    check = subprocess.run(
        [sys.executable, "-m", "qmtl_utils.report.stage_graph", "--check", str(path)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_the_committed_diagram_names_every_stage_and_what_it_needs(path):
    text = committed(path)
    nodes = dict(re.findall(r'^    (s\d\d[a-z]?)\["([^"]+)"\]$', text, re.M))
    assert [label.split("<br/>")[0] for label in nodes.values()] == [s.notebook for s in stages.GRAPH]
    for spec in stages.GRAPH:
        label = nodes[stage_graph.node_id(spec.notebook)]
        assert all(b in label for b in spec.needs) and all(str(v) in label for r in spec.runs for v in r.values())
    arrows = re.findall(r"^    (\S+) --> (\S+)$", text, re.M)
    assert arrows and {n for arrow in arrows for n in arrow} <= set(nodes)
    assert "class s04,s04a,s05,s06 optional" in text  # the CheXpert-only stages, drawn dashed


def test_arrows_keep_every_dependency_and_no_redundant_one():
    full, reduced = stage_graph.all_edges(), stage_graph.reduced_edges()
    assert set(full) == {(u, s.notebook) for s in stages.GRAPH for u in stages.upstream(s.notebook)}
    assert stage_graph.closure(reduced) == stage_graph.closure(full)  # the same "what depends on what"
    for edge in reduced:  # and none can go
        assert stage_graph.closure([e for e in reduced if e != edge]) != stage_graph.closure(full), edge
    assert ("03_training", "03a_mustard_fit") in reduced and ("02_heads", "07_figures") in reduced
    assert ("00_data_prep", "03_training") in full and ("00_data_prep", "03_training") not in reduced


def test_closure_of_a_chain():
    assert stage_graph.closure([("a", "b"), ("b", "c")]) == {("a", "b"), ("b", "c"), ("a", "c")}


def test_update_rewrites_only_between_the_markers(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        f"# Title\n\n{stage_graph.BEGIN}\n```mermaid\nflowchart TD\n    old --> diagram\n```\n{stage_graph.END}\n\nAfter.\n",
        encoding="utf-8",
    )
    argv = [sys.executable, "-m", "qmtl_utils.report.stage_graph"]
    stale = subprocess.run([*argv, "--check", str(doc)], capture_output=True, text=True, timeout=60)
    assert stale.returncode == 1 and "not current" in stale.stderr
    subprocess.run([*argv, "--update", str(doc)], check=True, capture_output=True, timeout=60)
    assert doc.read_text(encoding="utf-8") == f"# Title\n\n{stage_graph.block()}\n\nAfter.\n"
    assert subprocess.run([*argv, "--check", str(doc)], timeout=60).returncode == 0


def test_a_file_without_markers_is_refused(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("no markers here\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "qmtl_utils.report.stage_graph", "--update", str(doc)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "marker" in done.stderr and doc.read_text() == "no markers here\n"
