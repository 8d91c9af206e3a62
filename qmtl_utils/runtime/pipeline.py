"""The notebook runner behind ``run_all.sh``: execute ``notebooks/NN_slug.ipynb`` in order.

Each stage notebook is executed with papermill into ``runs/<profile>/<stem>.ipynb``. A stage is
skipped when its *stamp* -- a hash of its cells, its parameters, the profile's settings, the
``qmtl_utils`` source and the stamps of all earlier stages -- matches the one recorded after its
last successful run (``<cache>/<profile>/_pipeline/<stem>.json``), so re-running after a failure
or an edit only executes what changed. Deciding that is cheap: papermill is imported only when
a stage really has to run.

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
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from qmtl_utils.runtime import executor, paths, profiles
from qmtl_utils.runtime import stages as graph
from qmtl_utils.runtime.cache import _write_json_atomic, make_key
from qmtl_utils.runtime.fingerprint import code_fingerprint, source_imports

STAGE_RE = re.compile(r"^(\d{2}[a-z]?)_[A-Za-z0-9_]+$")
UP_TO_DATE, STALE, FAILED, NEVER_RUN, INTERRUPTED = (
    "up to date", "stale", "failed", "never run", "interrupted")


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
        raise PipelineError(f"{_show(path)}: metadata qmtl.runs must be a non-empty list of "
                            "non-empty dicts of parameters")
    runs = []
    for run in extra:
        if "profile" in run:
            raise PipelineError(f"{_show(path)}: metadata qmtl.runs must not set 'profile' "
                                "(choose it with run_all.sh --profile)")
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
        raise PipelineError("the notebooks do not match the stage graph in qmtl_utils/runtime/stages.py: "
                            + "; ".join([f"missing {', '.join(missing)}"] * bool(missing)
                                        + [f"not declared {', '.join(extra)}"] * bool(extra)))
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
    base = next((o for o in options if o != "None"), "") or {"True": "bool", "False": "bool"}.get(
        declared.get("default", ""), "")
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
        raise PipelineError(f"-p {name} {value}: {where} declares {name} as {kind} "
                            f"(default {declared.get('default')}); give a {base} value") from None
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
            raise PipelineError(f"-p {name}: no notebook declares a parameter {name!r}; valid names: "
                                + ", ".join(f"{n} ({', '.join(s.stem for s in stages if n in declared[s.stem])})"
                                            for n in valid))
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
    stamps: dict[str, str] = {}
    for stage in stages:
        if declared:  # the stages whose outputs it reads (their stamps cover their own upstream)
            upstream = [stamps[name] for name in graph.upstream(stage.stem)]
        else:
            upstream = list(stamps.values())
        content = {"cells": stage.cells, "runs": [r.params for r in stage.runs], "profile": settings}
        stage.stamp = make_key(stage.stem, content, upstream, _code_version(stage))
        stamps[stage.stem] = stage.stamp
    return stages


# --------------------------------------------------------------------------- stamps


def _record_path(profile: str, stage: Stage) -> Path:
    return paths.cache_dir(profile) / "_pipeline" / f"{stage.stem}.json"


def read_record(profile: str, stage: Stage) -> dict | None:
    """The stamp file of ``stage`` (None if never run or unreadable)."""
    try:
        return json.loads(_record_path(profile, stage).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_record(profile: str, stage: Stage, status: str, wall_s: float | None = None) -> None:
    """Record ``status`` (running / ok / failed) for ``stage``'s current stamp."""
    path = _record_path(profile, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "stage": stage.stem,
        "stamp": stage.stamp,
        "status": status,
        "wall_s": wall_s,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "executed": [_show(r.output) for r in stage.runs],
    }
    _write_json_atomic(record, path)


def stage_status(profile: str, stage: Stage) -> str:
    """up to date / stale / failed / interrupted / never run."""
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
        raise ValueError(f"{name!r} matches {len(found)} stages ({', '.join(s.stem for s in found)}); "
                         "give a stage number such as 03 or 04a, or a full name")
    return found


def select(stages: list[Stage], only: list[str], force: list[str],
           start: str | None) -> tuple[list[Stage], set[str]]:
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
                '`profile = "demo"` (Jupyter: View > Cell Toolbar > Tags) so run_all can set it')
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
                    f"unknown names silently, so add e.g. `{missing[0]} = ...` to that cell")


def _source_cell(stage: Stage, index: int) -> int:
    """Index in the source notebook of executed-copy cell ``index`` (papermill inserts one
    ``injected-parameters`` cell after the ``parameters`` cell)."""
    shifted = not stage.has_injected and stage.param_cell is not None and index > stage.param_cell
    return index - 1 if shifted else index


def _report_failure(stage: Stage, run: Run, exc: Exception) -> None:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        where = (f" at cell {_source_cell(stage, exc.cell_index)} "
                 f"(execution count {exc.exec_count})")
        what = f"{exc.ename}: {exc.evalue}"
    else:  # kernel died, timeout, unreadable output folder ...
        lines = str(exc).strip().splitlines() or [""]
        where, what = "", f"{type(exc).__name__}: {lines[0]}"
    print(f"run_all: FAILED {_show(stage.path)}{run.label}{where}: {what}", file=sys.stderr)
    if run.output.is_file():
        print(f"  the executed copy with the full traceback: {_show(run.output)}", file=sys.stderr)
    print("  fix it and re-run: finished stages are kept and skipped", file=sys.stderr)


# The kernels talk to run_all over local IPC sockets (files only this user can open), not TCP
# ports on localhost, which ipykernel warns are unencrypted.
KERNEL_CONFIG = {"KernelManager": {"transport": "ipc"}}


def _kernel_config():
    from traitlets.config import Config

    return Config(KERNEL_CONFIG)


def execute_stage(stage: Stage, profile: str, position: str) -> bool:
    """Execute every run of ``stage``; True on success (a failure is reported on stderr)."""
    import papermill

    write_record(profile, stage, "running")
    started = time.perf_counter()
    for run in stage.runs:
        print(f"{position} {stage.stem}{run.label} (profile {profile}) ... ", end="", flush=True)
        run.output.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(stage.path), str(run.output), parameters=run.params, kernel_name="python3",
                cwd=str(stage.path.parent), progress_bar=False, log_output=False, config=_kernel_config())
        except Exception as exc:  # noqa: BLE001 -- every failure is reported the same way
            print("FAILED", flush=True)
            write_record(profile, stage, "failed", round(time.perf_counter() - started, 3))
            _report_failure(stage, run, exc)
            return False
        print(f"done in {time.perf_counter() - t0:.1f} s", flush=True)
    write_record(profile, stage, "ok", round(time.perf_counter() - started, 3))
    return True


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
    print(f"run_all: executor ray at {gcs} ({resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs, "
          f"{len(ray.nodes())} node{'s' * (len(ray.nodes()) != 1)})", flush=True)
    return gcs


def stop_executor() -> None:
    """Disconnect from Ray (a local Ray started by :func:`start_executor` stops with it)."""
    if "ray" in sys.modules and sys.modules["ray"].is_initialized():
        sys.modules["ray"].shutdown()


def run_stages(selected: list[Stage], forced: set[str], profile: str, executor_name: str = "serial",
               address: str | None = None) -> int:
    """Execute the stale or forced stages in order; stop at the first failure. Exit status."""
    started = time.perf_counter()
    todo = [s for s in selected if s.stem in forced or stage_status(profile, s) != UP_TO_DATE]
    if todo:
        check_parameters(todo)
        kernel_environment(profile)
        start_executor(executor_name, address)
    try:
        return _run_todo(selected, todo, profile, started)
    finally:
        stop_executor()


def _run_todo(selected: list[Stage], todo: list[Stage], profile: str, started: float) -> int:
    for number, stage in enumerate(selected, 1):
        if stage.stem not in {s.stem for s in todo}:
            print(f"  up to date  {stage.stem}", flush=True)
        elif not execute_stage(stage, profile, f"[{number}/{len(selected)}]"):
            return 1
    print(f"run_all: {len(selected)} stage{'s' * (len(selected) != 1)}, {len(selected) - len(todo)} up to date, "
          f"{len(todo)} executed in {time.perf_counter() - started:.1f} s; "
          f"figures in {_show(paths.figures_dir())}/")
    return 0


def print_plan(stages: list[Stage], profile: str, summary: bool = False) -> int:
    """``--plan``: calibrate on this machine, then print every unit the profile implies, with its
    inputs, cache state, disk, memory and time (:mod:`qmtl_utils.runtime.plan`). Runs no notebook."""
    from qmtl_utils.runtime import plan

    recorded = {}
    for stage in stages:
        record = read_record(profile, stage)
        if record and record.get("status") == "ok" and isinstance(record.get("wall_s"), (int, float)):
            recorded[stage.stem] = float(record["wall_s"])
    print(f"run_all: calibrating on this machine for the {profile} profile (nothing is executed) ...", flush=True)
    settings = profiles.get_profile(profile)
    the_plan = plan.make_plan(profile, calibration=plan.calibrate(settings), recorded=recorded)
    print(plan.format_plan(the_plan, detail=not summary))
    return 0


def print_list(stages: list[Stage], profile: str) -> None:
    """One line per stage with its status, and the executed copies it writes."""
    width = max(len(s.stem) for s in stages)
    for stage in stages:
        outputs = ", ".join(_show(r.output) for r in stage.runs)
        print(f"  {stage.stem:<{width}}  {stage_status(profile, stage):<11}  -> {outputs}")


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_all.sh",
        description=(
            "Execute the companion notebooks (notebooks/NN_slug.ipynb) in order with papermill. "
            "Executed copies go to runs/<profile>/<stem>.ipynb; results are cached under "
            "cache/<profile>/ and figures written to figures/. Stages whose notebook, "
            "parameters, profile settings, qmtl_utils code and upstream stages are unchanged "
            "since their last successful run are skipped."),
        epilog=("STAGE is a notebook's number ('02', '04a') or its full name ('02_heads'). "
                "Profiles: paper = the paper's settings and data (GPU recommended); "
                "demo = small seeded offline data, minutes on a laptop (default); "
                "smoke = the smallest settings that run every code path (CI)."))
    parser.add_argument("--profile", choices=profiles.PROFILE_NAMES, default="demo",
                        help="settings profile (default: demo)")
    parser.add_argument("--force", nargs="+", default=[], metavar="STAGE",
                        help="re-execute these stages even if up to date")
    parser.add_argument("--from", dest="start", metavar="STAGE",
                        help="re-execute this stage and every later one")
    parser.add_argument("--only", nargs="+", default=[], metavar="STAGE",
                        help="consider only these stages (still skipped if up to date)")
    parser.add_argument("--list", action="store_true",
                        help="list the stages and their status (up to date / stale / failed / "
                             "never run), then exit")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        dest="parameters",
                        help="set parameter NAME of every notebook whose parameters cell declares it (e.g. "
                             "-p mode ibm -p submit True for 06_hardware); checked against those cells")
    parser.add_argument("--executor", choices=executor.EXECUTORS, default="serial",
                        help="where the independent runs of a stage are computed: serial = in the notebook's "
                             "process (default); ray = as Ray tasks, on the cluster at --address or a local Ray")
    parser.add_argument("--address", metavar="ADDRESS", default=None,
                        help="with --executor ray: the Ray cluster to use (e.g. 10.0.0.1:6379 or 'auto'); "
                             "the cache directory must be on a filesystem every node shares")
    parser.add_argument("--plan", action="store_true",
                        help="run nothing: calibrate on this machine and print every run the profile implies, "
                             "whether its inputs are present and it is cached, and its disk, memory and time")
    parser.add_argument("--plan-summary", action="store_true", help="with --plan: one line per stage")
    parser.add_argument("--notebooks-dir", type=Path, default=None, metavar="DIR",
                        help="where the stage notebooks are (default: notebooks/)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
            return print_plan(stages, args.profile, args.plan_summary)
        if args.address and args.executor != "ray":
            parser.error("--address needs --executor ray")
        return run_stages(selected, forced, args.profile, args.executor, args.address)
    except PipelineError as exc:
        print(f"run_all: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
