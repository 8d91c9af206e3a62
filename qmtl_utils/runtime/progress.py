"""Progress of a running stage, from the notebook's kernel to ``run_all``'s terminal line.

The studies call :func:`report` after every unit (a training run, a task-scaling run, a noise
level); inside a notebook executed by ``run_all`` it writes ``{done, total, label, elapsed_s}`` to
the file named by ``$QMTL_PROGRESS_FILE`` (atomically: a reader sees the previous or the new
state), which ``run_all`` polls to draw one live line per stage with a bar and an ETA. Outside
``run_all`` (JupyterLab) there is no such file and :func:`report` does nothing: the studies print
their own lines in the notebook.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

ENV = "QMTL_PROGRESS_FILE"
_STARTED: dict[str, float] = {}


def report(done: int, total: int, label: str, scope: str = "", elapsed_s: float | None = None) -> None:
    """Record that ``done`` of ``total`` units of ``scope`` are finished (``label``: the last one) after
    ``elapsed_s`` seconds of that scope (default: since the first call of this scope in this process,
    which makes the first ETA of a scope unknown)."""
    target = os.environ.get(ENV)
    if not target:
        return
    started = _STARTED.setdefault(scope, time.perf_counter())
    elapsed = time.perf_counter() - started if elapsed_s is None else elapsed_s
    state = {
        "done": int(done),
        "total": int(total),
        "label": label,
        "scope": scope,
        "elapsed_s": round(elapsed, 1) if elapsed > 0 else None,
    }
    path = Path(target)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # progress is best effort: never fail a computation over it
        tmp.unlink(missing_ok=True)


def read(path: Path) -> dict | None:
    """The last state written to ``path`` (None before the first report)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
