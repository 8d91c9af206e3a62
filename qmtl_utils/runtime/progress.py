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


def report(done: int, total: int, label: str, scope: str = "") -> None:
    """Record that ``done`` of ``total`` units of ``scope`` are finished (``label``: the last one)."""
    target = os.environ.get(ENV)
    if not target:
        return
    started = _STARTED.setdefault(scope, time.perf_counter())
    state = {"done": int(done), "total": int(total), "label": label, "scope": scope,
             "elapsed_s": round(time.perf_counter() - started, 1)}
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
