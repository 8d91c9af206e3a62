"""Run a command and report its wall time and the peak memory of its whole process tree.

``/usr/bin/time -v`` reports the largest single process; a run_all run is a driver, a notebook
kernel and the local executor's worker processes at once, and what a machine must hold is their
sum. This samples the resident memory of the command and every descendant (``/proc``, Linux) every
``--interval`` seconds and prints the peak of the sum, e.g. for the lite profile's budget:

    python benchmarks/peak_memory.py -- bash run_all.sh --profile lite
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def tree_rss(root: int) -> int:
    """Bytes resident in process ``root`` and all its descendants (0 for those that vanished)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        pid = int(status.parent.name)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    start = time.perf_counter()
    process = subprocess.Popen(command)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process.pid))
        time.sleep(args.interval)
    wall = time.perf_counter() - start
    print(
        f"peak_memory: exit {process.returncode}, wall {wall:.1f} s, peak resident memory of the process tree "
        f"{peak / 1e9:.2f} GB (sampled every {args.interval:g} s)",
        file=sys.stderr,
    )
    return process.returncode


if __name__ == "__main__":
    raise SystemExit(main())
