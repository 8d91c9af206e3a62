"""The notebook runner behind ``run_all.sh``: execute ``notebooks/NN_slug.ipynb`` in order.

Each stage notebook is executed with papermill into ``runs/<profile>/<stem>.ipynb``. A stage is
skipped when its *stamp* -- a hash of its cells, its parameters, the profile's settings, the
``qmtl_utils`` source and the stamps of all earlier stages -- matches the one recorded after its
last successful run (``<cache>/<profile>/_pipeline/<stem>.json``), so re-running after a failure
or an edit only executes what changed. Deciding that is cheap: papermill is imported only when
a stage really has to run.

After a successful run the executed copies are rendered to HTML, with an index page, in
``runs/<profile>/html/`` (:mod:`qmtl_utils.runtime.render`), for reading without running; only the
copies that changed are rendered again.

The companion's own notebooks follow the stage graph of :mod:`qmtl_utils.runtime.stages`: it says
which executions a notebook gets (each dict of extra parameters is one executed copy,
``runs/<profile>/<stem>-<values>.ipynb``) and which earlier stages its stamp depends on; the
stamp's code part covers only the ``qmtl_utils`` modules the notebook's cells import, and what they
import (:func:`~qmtl_utils.runtime.fingerprint.code_fingerprint`). A folder of other notebooks
(``--notebooks-dir``) may ask for several executions in their metadata instead, e.g.
``"qmtl": {"runs": [{"benchmark": "glue"}]}``, and each depends on every earlier one.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from qmtl_utils.runtime import executor, paths, profiles, render
from qmtl_utils.runtime import stages as graph
from qmtl_utils.runtime.cache import _write_json_atomic, make_key
from qmtl_utils.runtime.fingerprint import code_fingerprint, source_imports

STAGE_RE = re.compile(r"^(\d{2}[a-z]?)_[A-Za-z0-9_]+$")
UP_TO_DATE, STALE, FAILED, NEVER_RUN, INTERRUPTED, SKIPPED = (
    "up to date",
    "stale",
    "failed",
    "never run",
    "interrupted",
    "skipped",
)


class PipelineError(Exception):
    """A problem reported to the user as one ``run_all: ...`` message (exit status 1)."""


@dataclass
class Run:
    """One execution of a stage notebook."""

    params: dict[str, Any]
    output: Path
    label: str  # "" or " [benchmark=glue]"


@dataclass
class Stage:
    """A stage notebook, as read with ``json`` (no nbformat needed)."""

    stem: str
    path: Path
    cells: list[list[str]]  # [cell_type, source] pairs: what the stamp covers
    param_cell: int | None  # index of the cell tagged ``parameters``
    has_injected: bool  # already holds a papermill ``injected-parameters`` cell
    runs: list[Run]
    stamp: str = field(default="")
    skip_reason: str = ""  # the whole stage is not run under this profile (and why)
    skipped_runs: list[tuple[str, str]] = field(default_factory=list)  # (run label, why) left out

    @property
    def sid(self) -> str:
        """The ``NN`` / ``NNa`` prefix."""
        return STAGE_RE.match(self.stem).group(1)


# --------------------------------------------------------------------------- reading stages


def _show(path: Path) -> str:
    """``path`` relative to the repository root where possible (how users see it)."""
    try:
        return Path(path).resolve().relative_to(paths.repo_root()).as_posix()
    except ValueError:
        return str(path)


def _text(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _first_tagged(cells: list[dict], tag: str) -> int | None:
    return next((i for i, cell in enumerate(cells) if tag in _tags(cell)), None)


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.]+", "_", str(value)).strip("_") or "_"


def _runs(stem: str, path: Path, extra: list | None, profile: str) -> list[Run]:
    """The executions of a notebook: one with ``{"profile": ...}``, or one per dict of ``extra``."""
    out_dir = paths.runs_dir(profile)
    if extra is None:
        return [Run({"profile": profile}, out_dir / f"{stem}.ipynb", "")]
    if not isinstance(extra, (list, tuple)) or not extra or not all(isinstance(r, dict) and r for r in extra):
        raise PipelineError(f"{_show(path)}: metadata qmtl.runs must be a non-empty list of non-empty dicts of parameters")
    runs = []
    for run in extra:
        if "profile" in run:
            raise PipelineError(f"{_show(path)}: metadata qmtl.runs must not set 'profile' (choose it with run_all.sh --profile)")
        suffix = "-".join(_slug(v) for v in run.values())
        label = " [" + ", ".join(f"{k}={v}" for k, v in run.items()) + "]"
        runs.append(Run({"profile": profile, **run}, out_dir / f"{stem}-{suffix}.ipynb", label))
    return runs


def read_stage(path: Path, profile: str, declared: graph.StageSpec | None = None) -> Stage:
    """Read one stage notebook as JSON; its executions come from ``declared`` (the stage graph) or,
    for a notebook outside the graph, from its metadata."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PipelineError(f"cannot read notebook {_show(path)}: {exc}") from exc
    extra = (list(declared.runs) or None) if declared else nb.get("metadata", {}).get("qmtl", {}).get("runs")
    return Stage(
        stem=path.stem,
        path=path,
        cells=[[c.get("cell_type", ""), _text(c.get("source", ""))] for c in cells],
        param_cell=_first_tagged(cells, "parameters"),
        has_injected=_first_tagged(cells, "injected-parameters") is not None,
        runs=_runs(path.stem, path, extra, profile),
    )


def _declared(notebooks: Path, files: list[Path]) -> dict[str, graph.StageSpec] | None:
    """The stage graph, for the companion's own notebooks folder (None for any other folder); the
    notebooks on disk must be exactly the declared ones."""
    if notebooks.resolve() != paths.notebooks_dir().resolve():
        return None
    declared = {s.notebook: s for s in graph.GRAPH}
    on_disk = {p.stem for p in files}
    if on_disk != set(declared):
        missing, extra = sorted(set(declared) - on_disk), sorted(on_disk - set(declared))
        raise PipelineError(
            "the notebooks do not match the stage graph in qmtl_utils/runtime/stages.py: "
            + "; ".join([f"missing {', '.join(missing)}"] * bool(missing) + [f"not declared {', '.join(extra)}"] * bool(extra))
        )
    return declared


def _code_version(stage: Stage) -> str:
    """Fingerprint of the ``qmtl_utils`` code a notebook can reach through its imports."""
    source = "\n".join(text for kind, text in stage.cells if kind == "code")
    try:
        modules = sorted(source_imports(source))
    except SyntaxError as exc:
        raise PipelineError(f"{_show(stage.path)}: a code cell does not parse ({exc})") from exc
    return code_fingerprint(*modules) if modules else code_fingerprint("qmtl_utils")


def _convert(value: str, declared: dict, name: str, where: str) -> Any:
    """``value`` (text from the command line) as the type of ``name``'s default in its parameters cell."""
    kind = (declared.get("inferred_type_name") or "").replace(" ", "")
    options = kind.split("|") if kind else []
    if "None" in options and value in ("None", "none", ""):
        return None
    base = next((o for o in options if o != "None"), "") or {"True": "bool", "False": "bool"}.get(declared.get("default", ""), "")
    try:
        if base == "bool":
            lowered = value.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return lowered in ("true", "1", "yes")
        if base == "int":
            return int(value)
        if base == "float":
            return float(value)
    except ValueError:
        raise PipelineError(
            f"-p {name} {value}: {where} declares {name} as {kind} (default {declared.get('default')}); give a {base} value"
        ) from None
    return value


def apply_parameters(stages: list[Stage], pairs: list[tuple[str, str]]) -> None:
    """Add ``-p NAME VALUE`` pairs to the executions of every stage whose ``parameters`` cell declares
    NAME, converted to the type of its default; a name no stage declares, one run_all sets itself, or a
    value of the wrong type is a :class:`PipelineError` listing what is valid."""
    if not pairs:
        return
    import papermill

    declared = {s.stem: papermill.inspect_notebook(str(s.path)) for s in stages}
    reserved = {"profile"} | {k for s in stages for r in s.runs for k in r.params}
    valid = sorted({n for d in declared.values() for n in d} - reserved)
    for name, value in pairs:
        if name in reserved:
            how = "use --profile" if name == "profile" else "one execution per value, from the stage graph"
            raise PipelineError(f"-p {name}: run_all sets {name!r} itself ({how})")
        users = [s for s in stages if name in declared[s.stem]]
        if not users:
            raise PipelineError(
                f"-p {name}: no notebook declares a parameter {name!r}; valid names: "
                + ", ".join(f"{n} ({', '.join(s.stem for s in stages if n in declared[s.stem])})" for n in valid)
            )
        for stage in users:
            converted = _convert(value, declared[stage.stem][name], name, _show(stage.path))
            for run in stage.runs:
                run.params[name] = converted
                run.label = (run.label[:-1] + f", {name}={converted}]") if run.label else f" [{name}={converted}]"


def load_stages(notebooks: Path, profile: str, parameters: list[tuple[str, str]] | None = None) -> list[Stage]:
    """All ``NN[a-z]?_slug.ipynb`` notebooks in ``notebooks``, sorted by name, with their stamps;
    ``parameters``: ``-p NAME VALUE`` pairs (:func:`apply_parameters`), part of the stamps."""
    if not notebooks.is_dir():
        raise PipelineError(f"no notebooks directory at {notebooks}")
    files = sorted(p for p in notebooks.glob("*.ipynb") if STAGE_RE.match(p.stem))
    if not files:
        raise PipelineError(f"no stage notebooks (NN_slug.ipynb) in {notebooks}")
    declared = _declared(notebooks, files)
    stages = [read_stage(p, profile, declared[p.stem] if declared else None) for p in files]
    apply_parameters(stages, parameters or [])
    settings = profiles.get_profile(profile)
    missing = profiles.missing_benchmarks(settings)
    if declared:
        for stage in stages:
            _apply_skips(stage, declared[stage.stem], settings, missing)
    stamps: dict[str, str] = {}
    for stage in stages:
        if declared:  # the stages whose outputs it reads (their stamps cover their own upstream)
            upstream = [stamps[name] for name in graph.upstream(stage.stem)]
        else:
            upstream = list(stamps.values())
        # which optional benchmarks are absent is part of every stamp: adding the data re-runs what uses it
        content = {
            "cells": stage.cells,
            "runs": [r.params for r in stage.runs],
            "profile": settings,
            "missing_benchmarks": sorted(missing),
        }
        stage.stamp = make_key(stage.stem, content, upstream, _code_version(stage))
        stamps[stage.stem] = stage.stamp
    return stages


def _apply_skips(stage: Stage, spec: graph.StageSpec, settings: dict, missing: dict[str, str]) -> None:
    """Mark what of ``stage`` this profile does not run: the whole stage when the profile skips it
    or one of the benchmarks it needs is absent; else each execution whose ``benchmark`` is absent."""
    reason = settings.get("skip_stages", {}).get(stage.stem)
    absent = [b for b in spec.needs if b in missing]
    if reason or absent:
        stage.skip_reason = reason or missing[absent[0]]
        return
    kept = []
    for run in stage.runs:
        benchmark = run.params.get("benchmark")
        if benchmark in missing:
            stage.skipped_runs.append((run.label.strip(), missing[benchmark]))
        else:
            kept.append(run)
    stage.runs = kept


# --------------------------------------------------------------------------- stamps


def _record_path(profile: str, stage: Stage) -> Path:
    return paths.cache_dir(profile) / "_pipeline" / f"{stage.stem}.json"


def read_record(profile: str, stage: Stage) -> dict | None:
    """The stamp file of ``stage`` (None if never run or unreadable)."""
    try:
        return json.loads(_record_path(profile, stage).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_record(
    profile: str,
    stage: Stage,
    status: str,
    wall_s: float | None = None,
    entries: list[str] | None = None,
    summary: dict | None = None,
) -> None:
    """Record ``status`` (running / ok / failed) for ``stage``'s current stamp; ``entries``: the
    cache entries (``"<cache stage> <key>"``) it produced, checked before it is skipped next time."""
    path = _record_path(profile, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "stage": stage.stem,
        "stamp": stage.stamp,
        "status": status,
        "wall_s": wall_s,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "executed": [_show(r.output) for r in stage.runs],
        "entries": entries or [],
        "summary": summary or {},
    }
    _write_json_atomic(record, path)


def bad_entries(profile: str, stage: Stage) -> list[str]:
    """The recorded entries of ``stage`` that are gone or no longer match their manifests (each bad
    one is moved aside by :meth:`~qmtl_utils.runtime.cache.Cache.check`), as ``"stage/key: why"``."""
    from qmtl_utils.runtime.cache import Cache

    record = read_record(profile, stage) or {}
    cache, bad = Cache.for_profile(profile), []
    for item in record.get("entries", []):
        name, _, key = item.partition(" ")
        try:
            problem = cache.check(name, key)
        except ValueError as exc:  # a hand-edited record
            problem = str(exc)
        if problem:
            bad.append(f"{name}/{key[:12]}: {problem}")
    return bad


def stage_status(profile: str, stage: Stage) -> str:
    """up to date / stale / failed / interrupted / never run / skipped (not run under this profile)."""
    if stage.skip_reason:
        return SKIPPED
    record = read_record(profile, stage)
    if record is None:
        return NEVER_RUN
    if record.get("status") == "failed":
        return FAILED
    if record.get("status") == "running":
        return INTERRUPTED
    fresh = record.get("status") == "ok" and record.get("stamp") == stage.stamp
    return UP_TO_DATE if fresh and all(r.output.is_file() for r in stage.runs) else STALE


# --------------------------------------------------------------------------- selection


def match_stages(stages: list[Stage], name: str) -> list[Stage]:
    """The stage named by ``name``: its full stem or ``NN[a-z]?`` number exactly, else the one stage
    whose stem starts with ``name`` (ValueError when none or several do)."""
    found = [s for s in stages if name in (s.stem, s.sid)]
    found = found or [s for s in stages if s.stem.startswith(name)]
    if not found:
        raise ValueError(f"no stage matches {name!r}; stages: {', '.join(s.stem for s in stages)}")
    if len(found) > 1:
        raise ValueError(
            f"{name!r} matches {len(found)} stages ({', '.join(s.stem for s in found)}); "
            "give a stage number such as 03 or 04a, or a full name"
        )
    return found


def select(stages: list[Stage], only: list[str], force: list[str], start: str | None) -> tuple[list[Stage], set[str]]:
    """(stages to consider, in order; stems to execute even if up to date)."""
    chosen = {s.stem for name in only for s in match_stages(stages, name)}
    selected = [s for s in stages if not only or s.stem in chosen]
    forced = {s.stem for name in force for s in match_stages(stages, name)}
    outside = sorted(forced - {s.stem for s in selected})
    if outside:
        raise ValueError(f"--force {', '.join(outside)} is not among the --only stages")
    if start is not None:
        first = stages.index(match_stages(stages, start)[0])
        forced |= {s.stem for s in stages[first:] if s in selected}
    return selected, forced


# --------------------------------------------------------------------------- execution


def check_parameters(stages: list[Stage]) -> None:
    """Fail unless every parameter we pass is declared in the notebook's ``parameters`` cell."""
    import papermill

    for stage in stages:
        where = _show(stage.path)
        if stage.param_cell is None:
            raise PipelineError(
                f"{where} has no cell tagged `parameters`; tag the cell that sets "
                '`profile = "demo"` (Jupyter: View > Cell Toolbar > Tags) so run_all can set it'
            )
        try:
            declared = papermill.inspect_notebook(str(stage.path))
        except ValueError as exc:
            raise PipelineError(f"cannot read the parameters of {where}: {exc}") from exc
        for run in stage.runs:
            missing = sorted(set(run.params) - set(declared))
            if missing:
                raise PipelineError(
                    f"{where}: its `parameters` cell does not declare {', '.join(missing)} "
                    f"(it declares: {', '.join(sorted(declared)) or 'nothing'}); papermill accepts "
                    f"unknown names silently, so add e.g. `{missing[0]} = ...` to that cell"
                )


def _source_cell(stage: Stage, index: int) -> int:
    """Index in the source notebook of executed-copy cell ``index`` (papermill inserts one
    ``injected-parameters`` cell after the ``parameters`` cell)."""
    shifted = not stage.has_injected and stage.param_cell is not None and index > stage.param_cell
    return index - 1 if shifted else index


def _report_failure(stage: Stage, run: Run, exc: Exception) -> None:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        where = f" at cell {_source_cell(stage, exc.cell_index)} (execution count {exc.exec_count})"
        what = f"{exc.ename}: {exc.evalue}"
    else:  # kernel died, timeout, unreadable output folder ...
        lines = str(exc).strip().splitlines() or [""]
        where, what = "", f"{type(exc).__name__}: {lines[0]}"
    print(f"run_all: FAILED {_show(stage.path)}{run.label}{where}: {what}", file=sys.stderr)
    if run.output.is_file():
        print(f"  the executed copy with the full traceback: {_show(run.output)}", file=sys.stderr)
    print("  fix it and re-run: finished stages are kept and skipped", file=sys.stderr)


# The kernels talk to run_all over local IPC sockets (files only this user can open), not TCP
# ports on localhost, which ipykernel warns are unencrypted. A kernel is stopped at once when its
# notebook has run (``shutdown_kernel="immediate"``): the graceful path interrupts it first, which
# a kernel still busy after Ctrl-C answers with a logged traceback on the terminal.
KERNEL_CONFIG = {"KernelManager": {"transport": "ipc"}}


def _kernel_config():
    """The kernels' configuration; their IPC socket files go to a private temporary folder (by
    default they would appear in the notebooks' folder, beside the notebooks)."""
    import tempfile

    from traitlets.config import Config

    folder = Path(tempfile.gettempdir()) / f"qmtl-kernels-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return Config({"KernelManager": {**KERNEL_CONFIG["KernelManager"], "ip": str(folder / f"kernel-{os.getpid()}")}})


class Interrupted(Exception):
    """Ctrl-C during a stage: reported as one line, the stage left to rerun."""

    def __init__(self, where: str, seconds: float):
        super().__init__(where)
        self.where, self.seconds = where, seconds


def _produced(stage: Stage, log: Path) -> list[str]:
    """The entries the stage's kernels logged (``"<cache stage> <key>"``), restricted to the cache
    stages the stage graph says it writes (every logged one for a notebook outside the graph)."""
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    try:
        writes = set(graph.stage(stage.stem).writes)
    except KeyError:
        writes = None
    return sorted({line for line in lines if line.strip() and (writes is None or line.split(" ")[0] in writes)})


def _output_counts(path: Path) -> dict[str, int]:
    """Cache hits and misses printed in an executed copy (the ``[cache] hit``/``miss`` lines)."""
    counts = {"hits": 0, "misses": 0}
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return counts
    for cell in cells:
        for output in cell.get("outputs", []):
            for line in _text(output.get("text", "")).splitlines():
                counts["hits"] += line.startswith("[cache] hit")
                counts["misses"] += line.startswith("[cache] miss")
    return counts


def execute_stage(stage: Stage, profile: str, position: str) -> bool:
    """Execute every run of ``stage``; True on success (a failure is reported on stderr)."""
    import papermill

    from qmtl_utils.runtime import progress
    from qmtl_utils.runtime.cache import ENTRY_LOG

    write_record(profile, stage, "running")
    started = time.perf_counter()
    folder = _record_path(profile, stage).parent
    log, state = folder / f".{stage.stem}.entries", folder / f".{stage.stem}.progress"
    log.unlink(missing_ok=True)
    counts, figures_before = {"hits": 0, "misses": 0}, _figure_times(profile)
    for run in stage.runs:
        title = f"{position} {stage.stem}{run.label} (profile {profile})"
        run.output.parent.mkdir(parents=True, exist_ok=True)
        state.unlink(missing_ok=True)
        os.environ[ENTRY_LOG], os.environ[progress.ENV] = str(log), str(state)
        t0 = time.perf_counter()
        line = LiveLine(title, state)
        try:
            with line:
                papermill.execute_notebook(
                    str(stage.path),
                    str(run.output),
                    parameters=run.params,
                    kernel_name="python3",
                    cwd=str(stage.path.parent),
                    progress_bar=False,
                    log_output=False,
                    config=_kernel_config(),
                    shutdown_kernel="immediate",
                )
        except KeyboardInterrupt:
            line.finish("interrupted")
            run.output.unlink(missing_ok=True)  # papermill's last save shows cells that never ran as done
            raise Interrupted(f"{stage.stem}{run.label}", time.perf_counter() - t0) from None
        except Exception as exc:  # noqa: BLE001 -- every failure is reported the same way
            line.finish("FAILED")
            _disk_full_exit(exc)
            write_record(profile, stage, "failed", round(time.perf_counter() - started, 3))
            _report_failure(stage, run, exc)
            return False
        finally:
            os.environ.pop(ENTRY_LOG, None)
            os.environ.pop(progress.ENV, None)
            state.unlink(missing_ok=True)
        line.finish(f"done in {time.perf_counter() - t0:.1f} s")
        for name, value in _output_counts(run.output).items():
            counts[name] += value
    figures = sum(1 for path, mtime in _figure_times(profile).items() if figures_before.get(path) != mtime)
    wall = round(time.perf_counter() - started, 3)
    write_record(profile, stage, "ok", wall, _produced(stage, log), {**counts, "figures": figures})
    log.unlink(missing_ok=True)
    return True


def _figure_times(profile: str) -> dict[str, float]:
    folder = paths.figures_dir(profile)
    return {str(p): p.stat().st_mtime for p in folder.glob("*") if p.is_file()} if folder.is_dir() else {}


def _disk_full_exit(exc: BaseException) -> None:
    """Raise :class:`PipelineError` naming the full disk if ``exc`` (or a cell's error) is ENOSPC."""
    from papermill.exceptions import PapermillExecutionError

    text = f"{getattr(exc, 'ename', '')} {getattr(exc, 'evalue', '')}" if isinstance(exc, PapermillExecutionError) else ""
    if (
        isinstance(exc, OSError)
        and exc.errno in (errno.ENOSPC, errno.EDQUOT)
        or "CacheDiskFull" in text
        or "No space left on device" in text
    ):
        raise PipelineError(_disk_full_message(exc))


def _disk_full_message(exc: BaseException) -> str:
    where = getattr(exc, "filename", None)
    detail = getattr(exc, "evalue", None) or getattr(exc, "strerror", None) or str(exc)
    return (
        f"the disk is full ({detail}{f'; at {where}' if where else ''}). Free some space (finished stages "
        "and cache entries are kept) and rerun; the stage that was running is re-executed"
    )


class LiveLine:
    """One terminal line per execution: the stage's title, then a bar with runs done / total and an
    ETA read from the kernel's progress reports (:mod:`qmtl_utils.runtime.progress`). On a terminal
    the line is redrawn in place; in a log file a line is printed each time a unit finishes."""

    def __init__(self, title: str, state: Path, interval_s: float = 0.5):
        self.title, self.state, self.interval_s = title, state, interval_s
        self.tty = sys.stdout.isatty()
        self._stop, self._thread, self._last, self._started = None, None, None, time.perf_counter()

    def __enter__(self) -> "LiveLine":
        import threading

        print(f"{self.title} ...", end="" if self.tty else "\n", flush=True)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _render(self, state: dict) -> str:
        from tqdm import tqdm

        done, total = state["done"], max(state["total"], 1)
        eta = state["elapsed_s"] / done * (total - done) if done and state.get("elapsed_s") else None
        bar = tqdm.format_meter(done, total, time.perf_counter() - self._started, ncols=40, unit="run", bar_format="{bar}")
        return f"{self.title} |{bar}| {done}/{total} {state['label']}" + (f", about {eta:.0f} s to go" if eta is not None else "")

    def _poll(self) -> None:
        from qmtl_utils.runtime import progress

        while not self._stop.wait(self.interval_s):
            state = progress.read(self.state)
            if not state or state == self._last:
                continue
            self._last = state
            text = self._render(state)
            if self.tty:
                width = shutil.get_terminal_size((100, 20)).columns - 1
                print("\r" + text[:width].ljust(width), end="", flush=True)
            else:
                print(f"  {text}", flush=True)

    def finish(self, outcome: str) -> None:
        if self._thread is not None:
            self.__exit__()
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            print("\r" + f"{self.title} ... {outcome}"[:width].ljust(width), flush=True)
        else:
            print(f"{self.title} ... {outcome}", flush=True)


def kernel_environment(profile: str) -> None:
    """Environment inherited by the notebook kernels (matplotlib keeps ipykernel's inline backend,
    so executed copies embed their figures)."""
    os.environ.pop("MPLBACKEND", None)
    os.environ["PYTHONHASHSEED"] = "0"
    os.environ["QMTL_PROFILE"] = profile
    root = str(paths.repo_root())
    pythonpath = os.environ.get("PYTHONPATH", "")
    if root not in pythonpath.split(os.pathsep):  # notebooks import qmtl_utils even if not installed
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, pythonpath) if p)


def start_executor(name: str, address: str | None) -> str | None:
    """Tell the notebook kernels which executor to use (``QMTL_EXECUTOR``); for Ray, connect to the
    cluster at ``address`` or start a local one here, and hand its address to the kernels
    (``QMTL_RAY_ADDRESS``). Returns the address (None for serial)."""
    os.environ[executor.ENV_EXECUTOR] = name
    if name != "ray":
        os.environ.pop(executor.ENV_ADDRESS, None)
        return None
    try:
        ray = executor.connect(address)
    except Exception as exc:  # noqa: BLE001 -- no Ray, or no cluster at that address
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise PipelineError(f"--executor ray: cannot start or reach {where}: {type(exc).__name__}: {exc}") from exc
    gcs = ray.get_runtime_context().gcs_address
    os.environ[executor.ENV_ADDRESS] = gcs
    resources = ray.cluster_resources()
    print(
        f"run_all: executor ray at {gcs} ({resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs, "
        f"{len(ray.nodes())} node{'s' * (len(ray.nodes()) != 1)})",
        flush=True,
    )
    return gcs


def stop_executor() -> None:
    """Disconnect from Ray (a local Ray started by :func:`start_executor` stops with it)."""
    if "ray" in sys.modules and sys.modules["ray"].is_initialized():
        sys.modules["ray"].shutdown()


def run_stages(
    selected: list[Stage],
    forced: set[str],
    profile: str,
    executor_name: str = "serial",
    address: str | None = None,
    everything: list[Stage] | None = None,
) -> int:
    """Execute the stale or forced stages in order; stop at the first failure. Then render the
    executed copies of ``everything`` (all the profile's stages; default ``selected``) to HTML
    (:func:`render_html`). Exit status."""
    started = time.perf_counter()
    with run_lock(profile):
        todo = []
        for stage in selected:
            if stage.skip_reason:
                continue
            if stage.stem in forced or stage_status(profile, stage) != UP_TO_DATE:
                todo.append(stage)
                continue
            bad = bad_entries(profile, stage)
            if bad:
                print(
                    f"  re-running  {stage.stem}: {len(bad)} of its cache entries failed their check and were moved "
                    f"aside ({bad[0]}{'; ...' if len(bad) > 1 else ''})",
                    flush=True,
                )
                todo.append(stage)
        if todo:
            check_parameters(todo)
            kernel_environment(profile)
            start_executor(executor_name, address)
        try:
            return _run_todo(selected, todo, profile, started, everything or selected)
        finally:
            stop_executor()


class run_lock:  # noqa: N801 -- used as ``with run_lock(profile):``
    """One ``run_all`` at a time per cache: an exclusive ``flock`` on ``<cache>/_pipeline/run.lock``
    (released by the kernel when the process ends, however it ends), holding the owner's PID."""

    def __init__(self, profile: str):
        self.path = paths.cache_dir(profile) / "_pipeline" / "run.lock"
        self.handle = None

    def __enter__(self) -> "run_lock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            owner = self.handle.read().strip() or "?"
            self.handle.close()
            raise PipelineError(
                f"another run_all (PID {owner}) is using the cache {_show(self.path.parents[1])}; "
                "wait for it to finish (or stop it), then rerun: it shares every finished entry"
            )
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _run_todo(selected: list[Stage], todo: list[Stage], profile: str, started: float, everything: list[Stage]) -> int:
    executed, skipped = [], [s for s in selected if s.skip_reason]
    for number, stage in enumerate(selected, 1):
        if stage.skip_reason:
            print(f"  skipped     {stage.stem}: {stage.skip_reason}", flush=True)
            continue
        for label, reason in stage.skipped_runs:
            print(f"  skipped     {stage.stem} {label}: {reason}", flush=True)
        if stage.stem not in {s.stem for s in todo}:
            print(f"  up to date  {stage.stem}", flush=True)
        elif not execute_stage(stage, profile, f"[{number}/{len(selected)}]"):
            return 1
        else:
            executed.append(stage.stem)
    print_summary(selected, executed, profile)
    try:
        pages = render_html(everything, profile)
    except render.RenderError as exc:
        print(f"run_all: {exc}; the stages are done and cached, rerun to render again", file=sys.stderr)
        return 1
    if pages.written or pages.removed:
        print(
            f"  html        {len(pages.written)} page{'s' * (len(pages.written) != 1)} rendered"
            + (f", {len(pages.removed)} removed" if pages.removed else "")
            + f" in {_show(pages.folder)}/",
            flush=True,
        )
    up_to_date = len(selected) - len(todo) - len(skipped)
    print(
        f"run_all: {len(selected)} stage{'s' * (len(selected) != 1)}, {up_to_date} up to date, "
        f"{len(todo)} executed"
        + (f", {len(skipped)} skipped" if skipped else "")
        + f" in {time.perf_counter() - started:.1f} s; figures in {_show(paths.figures_dir(profile))}/; "
        f"notebooks to read in {_show(pages.index)}"
    )
    return 0


def render_html(stages: list[Stage], profile: str) -> render.Rendered:
    """The executed copies of ``stages`` as HTML pages with an index in ``runs/<profile>/html/``
    (:func:`qmtl_utils.runtime.render.render`: only what changed is rendered again); the stages
    and executions this profile leaves out are listed on the index with the reason."""
    pages, notes = [], []
    for stage in stages:
        if stage.skip_reason:
            notes.append(f"{stage.stem}: {stage.skip_reason}")
            continue
        notes += [f"{stage.stem} {label}: {reason}" for label, reason in stage.skipped_runs]
        status = stage_status(profile, stage)
        pages += [render.Page(run.output, stage.stem, run.label.strip()[1:-1], status) for run in stage.runs]
    return render.render(pages, render.html_dir(profile), profile, notes)


def print_summary(selected: list[Stage], executed: list[str], profile: str) -> None:
    """The closing table: stage, what happened, its time, cache hits and misses, figures written."""
    if not executed:
        return
    width = max(len(s.stem) for s in selected)
    print(f"\n  {'stage':<{width}}  {'status':<11} {'time':>8}  {'cache hits':>10}  {'misses':>6}  {'figures':>7}")
    notes = []
    for stage in selected:
        record = read_record(profile, stage) or {}
        summary = record.get("summary", {})
        ran = stage.stem in executed
        status = SKIPPED if stage.skip_reason else "executed" if ran else "up to date"
        seconds = f"{record['wall_s']:.1f} s" if ran and isinstance(record.get("wall_s"), (int, float)) else "-"
        print(
            f"  {stage.stem:<{width}}  {status:<11} {seconds:>8}  "
            f"{summary.get('hits', '-') if ran else '-':>10}  {summary.get('misses', '-') if ran else '-':>6}  "
            f"{summary.get('figures', '-') if ran else '-':>7}"
        )
        notes += [f"{stage.stem}: {stage.skip_reason}"] if stage.skip_reason else []
        notes += [f"{stage.stem} {label}: {reason}" for label, reason in stage.skipped_runs]
    for note in notes:
        print(f"  skipped: {note}")
    print()


def print_plan(
    profile: str, summary: bool = False, parameters: list[tuple[str, str]] | None = None, executor_name: str | None = None
) -> int:
    """``--plan``: :mod:`qmtl_utils.studies.plan` in its own process (it reads the studies, a layer
    this runner does not import), which calibrates and prints the plan; runs no notebook. Of the
    ``-p`` parameters only ``glue_tasks`` changes what the profile implies, and goes with it."""
    import subprocess

    argv = [sys.executable, "-m", "qmtl_utils.studies.plan", "--profile", profile] + ["--summary"] * summary
    argv += [arg for name, value in parameters or [] if name == "glue_tasks" for arg in ("--glue-tasks", value)]
    argv += ["--executor", executor_name] if executor_name else []
    return subprocess.run(argv, check=False).returncode


def fetch_data(parameters: list[list[str]]) -> int:
    """``--fetch``: :mod:`qmtl_utils.data.fetch` in its own process (the data layer, which this runner
    does not import); ``-p glue_tasks`` limits the GLUE tasks fetched."""
    import subprocess

    argv = [sys.executable, "-m", "qmtl_utils.data.fetch"]
    argv += [arg for name, value in parameters if name == "glue_tasks" for arg in ("--glue-tasks", value)]
    return subprocess.run(argv, check=False).returncode


def print_list(stages: list[Stage], profile: str) -> None:
    """One line per stage with its status, and the executed copies it writes."""
    width = max(len(s.stem) for s in stages)
    for stage in stages:
        if stage.skip_reason:
            print(f"  {stage.stem:<{width}}  {SKIPPED:<11}  ({stage.skip_reason})")
            continue
        outputs = ", ".join(_show(r.output) for r in stage.runs)
        gone = "".join(f"; skipped {label} ({reason})" for label, reason in stage.skipped_runs)
        print(f"  {stage.stem:<{width}}  {stage_status(profile, stage):<11}  -> {outputs}{gone}")


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_all.sh",
        description=(
            "Execute the companion notebooks (notebooks/NN_slug.ipynb) in order with papermill. "
            "Executed copies go to runs/<profile>/<stem>.ipynb, rendered to HTML with an index in "
            "runs/<profile>/html/index.html; results are cached under "
            "cache/<profile>/ and figures written to figures/<profile>/. Stages whose notebook, "
            "parameters, profile settings, qmtl_utils code and upstream stages are unchanged "
            "since their last successful run are skipped."
        ),
        epilog=(
            "STAGE is a notebook's number ('02', '04a'), its full name ('02_heads') or a prefix that only "
            "one stage has ('02_h'). "
            "Profiles: paper = the paper's settings and data (GPU recommended); "
            "lite = the real public data (GLUE, Extended MUStARD; CheXpert where present) at laptop scale "
            "(get it with --fetch; a subset of GLUE tasks with -p glue_tasks cola,mrpc,...); "
            "demo = small seeded offline data, minutes on a laptop (default); "
            "smoke = the smallest settings that run every code path (CI)."
        ),
    )
    parser.add_argument("--profile", choices=profiles.PROFILE_NAMES, default="demo", help="settings profile (default: demo)")
    parser.add_argument("--force", nargs="+", default=[], metavar="STAGE", help="re-execute these stages even if up to date")
    parser.add_argument("--from", dest="start", metavar="STAGE", help="re-execute this stage and every later one")
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="STAGE", help="consider only these stages (still skipped if up to date)"
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="list the stages and their status (up to date / stale / failed / never run), then exit",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        dest="parameters",
        help="set parameter NAME of every notebook whose parameters cell declares it (e.g. "
        "-p mode ibm -p submit True for 06_hardware); checked against those cells",
    )
    parser.add_argument(
        "--executor",
        choices=executor.EXECUTORS,
        default=executor.DEFAULT_EXECUTOR,
        help="where the independent runs of a stage are computed: local = a pool of processes on "
        "this machine, one per core (default; QMTL_WORKERS sets how many); serial = one after "
        "the other in the notebook's process; ray = as Ray tasks, on the cluster at --address or "
        "a local Ray. Every executor gives the same entries to the last bit (one torch thread "
        "per run: QMTL_UNIT_THREADS)",
    )
    parser.add_argument(
        "--address",
        metavar="ADDRESS",
        default=None,
        help="with --executor ray: the Ray cluster to use (e.g. 10.0.0.1:6379 or 'auto'); "
        "the cache directory must be on a filesystem every node shares",
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="run nothing: calibrate on this machine and print every run the profile implies, "
        "whether its inputs are present and it is cached, and its disk, memory and time",
    )
    parser.add_argument("--plan-summary", action="store_true", help="with --plan: one line per stage")
    parser.add_argument(
        "--fetch",
        action="store_true",
        help="run nothing: download the public data (GLUE, Extended MUStARD's files) into data/ "
        "(python -m qmtl_utils.data.fetch; it says where to put what it cannot download)",
    )
    parser.add_argument(
        "--notebooks-dir", type=Path, default=None, metavar="DIR", help="where the stage notebooks are (default: notebooks/)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.fetch:
        return fetch_data(args.parameters)
    notebooks = (args.notebooks_dir or paths.notebooks_dir()).resolve()
    try:
        stages = load_stages(notebooks, args.profile, [tuple(p) for p in args.parameters])
        try:
            selected, forced = select(stages, args.only, args.force, args.start)
        except ValueError as exc:
            parser.error(str(exc))
        if args.list:
            print_list(selected, args.profile)
            return 0
        if args.plan:
            return print_plan(args.profile, args.plan_summary, [tuple(p) for p in args.parameters], args.executor)
        if args.address and args.executor != "ray":
            parser.error("--address needs --executor ray")
        return run_stages(selected, forced, args.profile, args.executor, args.address, stages)
    except PipelineError as exc:
        print(f"run_all: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Interrupted) as exc:
        where = f" at {exc.where} after {exc.seconds:.0f} s" if isinstance(exc, Interrupted) else ""
        _clean_after_interrupt(args.profile)
        print(f"\nrun_all: interrupted{where}; rerun to resume (finished runs are cached)", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            print(f"run_all: {_disk_full_message(exc)}", file=sys.stderr)
            return 1
        raise


def _clean_after_interrupt(profile: str) -> None:
    """Remove the temporary folders of writers that are gone (the interrupted kernel's)."""
    from qmtl_utils.runtime.cache import Cache

    try:
        Cache.for_profile(profile).clean_tmp()
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
