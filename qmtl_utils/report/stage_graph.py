"""The stage graph of :mod:`qmtl_utils.runtime.stages` drawn as a Mermaid flowchart, for the docs.

One node per stage notebook (its executions and the benchmarks it ``needs``), one arrow from each
stage to every later stage that reads what it writes (:func:`~qmtl_utils.runtime.stages.upstream`),
leaving out the arrows a longer path already implies (a transitive reduction: a stage's stamp covers
its upstream stages' stamps, so the reduced graph says exactly what re-runs after a change).

``python -m qmtl_utils.report.stage_graph`` prints the diagram; ``--update FILE ...`` writes it
between the marker comments :data:`BEGIN` and :data:`END` of each file; ``--check FILE ...`` exits
with status 1 when a file's diagram is not the one the graph gives (tests/test_stage_graph.py).

Not imported by any notebook or study: editing it leaves every stamp and cache key as it is.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from qmtl_utils.runtime import stages

COMMAND = "python -m qmtl_utils.report.stage_graph --update README.md"
BEGIN = f"<!-- stage graph: generated from qmtl_utils/runtime/stages.py by `{COMMAND}`; do not edit -->"
END = "<!-- end of stage graph -->"


def node_id(notebook: str) -> str:
    """A Mermaid node id from the stage's number: ``03a_mustard_fit`` -> ``s03a``."""
    return "s" + re.match(r"^(\d{2}[a-z]?)_", notebook).group(1)


def all_edges() -> list[tuple[str, str]]:
    """Every (earlier, later) pair of notebooks where ``later`` reads what ``earlier`` writes."""
    return [(up, spec.notebook) for spec in stages.GRAPH for up in stages.upstream(spec.notebook)]


def closure(edges: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Every (a, b) with a path from ``a`` to ``b`` along ``edges``."""
    reach = set(edges)
    while True:
        longer = {(a, d) for a, b in reach for c, d in reach if b == c} - reach
        if not longer:
            return reach
        reach |= longer


def reduced_edges() -> list[tuple[str, str]]:
    """:func:`all_edges` less those a path of two or more arrows implies (the transitive reduction
    of an acyclic graph: the fewest arrows with the same reachability)."""
    edges = all_edges()
    reach = closure(edges)
    return [(a, b) for a, b in edges if not any((a, c) in reach and (c, b) in reach for _, c in edges if c not in (a, b))]


def node_label(spec: stages.StageSpec) -> str:
    """The notebook's name, one line for its executions, one for the benchmarks it needs."""
    lines = [spec.notebook]
    if spec.runs:
        keys = list(dict.fromkeys(k for run in spec.runs for k in run))
        lines.append(f"one run per {', '.join(keys)}: " + ", ".join("/".join(str(v) for v in run.values()) for run in spec.runs))
    if spec.needs:
        lines.append(f"needs {', '.join(spec.needs)}")
    return "<br/>".join(lines)


def mermaid() -> str:
    """The stage graph as Mermaid flowchart text (nodes in graph order, then the arrows)."""
    out = ["flowchart TD"]
    for spec in stages.GRAPH:
        out.append(f'    {node_id(spec.notebook)}["{node_label(spec)}"]')
    for a, b in reduced_edges():
        out.append(f"    {node_id(a)} --> {node_id(b)}")
    optional = [node_id(s.notebook) for s in stages.GRAPH if s.needs]
    if optional:
        out.append("    classDef optional stroke-dasharray: 5 5")
        out.append(f"    class {','.join(optional)} optional")
    return "\n".join(out) + "\n"


def block() -> str:
    """What goes between the markers: the diagram as a fenced ``mermaid`` block."""
    return f"{BEGIN}\n```mermaid\n{mermaid()}```\n{END}"


def replace_block(text: str, where: str = "the text") -> str:
    """``text`` with the part from :data:`BEGIN` to :data:`END` (both included) replaced by :func:`block`."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"{where} must hold the marker lines once each, in order:\n{BEGIN}\n{END}")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + block() + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qmtl_utils.report.stage_graph", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--update", nargs="+", type=Path, metavar="FILE", help="write the diagram between the marker comments of each FILE"
    )
    group.add_argument(
        "--check", nargs="+", type=Path, metavar="FILE", help="exit with status 1 if a FILE's diagram is not current"
    )
    args = parser.parse_args(argv)
    if not (args.update or args.check):
        print(mermaid(), end="")
        return 0
    stale = []
    for path in args.update or args.check:
        text = path.read_text(encoding="utf-8")
        try:
            new = replace_block(text, str(path))
        except ValueError as exc:
            print(f"stage_graph: {exc}", file=sys.stderr)
            return 2
        if new != text:
            stale.append(path)
            if args.update:
                path.write_text(new, encoding="utf-8")
    verb = "updated" if args.update else "not current (run `" + COMMAND + "`)"
    for path in stale:
        print(f"{path}: stage graph {verb}", file=sys.stderr if args.check else sys.stdout)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
