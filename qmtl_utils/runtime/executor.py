"""Where the independent units of a study run: a pool of local processes (the default), the
notebook's own process (``serial``), or a Ray cluster (``bash run_all.sh --executor ray [--address ADDRESS]``).

A *unit* is one cache entry that nothing else in its stage depends on while it is computed: a
training run (benchmark, head, seed or fold, ablation or open-choice setting), a task-scaling run,
a noise level. The studies describe their missing units with :class:`Unit` and hand them to
:func:`prefetch` before their own loop, which then reads every entry back as a cache hit:

* ``local`` (default; ``QMTL_WORKERS`` processes, default one per CPU core): each missing unit is
  computed by a worker process of a :class:`concurrent.futures.ProcessPoolExecutor` (started with
  ``spawn``: a clean interpreter, no inherited thread pools);
* ``serial``: each missing unit is computed in this process, one after the other;
* ``ray``: each missing unit is one Ray task with a resource request (one GPU for a training run
  where the cluster has GPUs, one CPU otherwise).

Every executor computes a unit the same way (:func:`compute_unit`): the worker rebuilds its inputs
from the cache, runs with **the same number of torch threads** (:func:`unit_threads`, one by
default: ``QMTL_UNIT_THREADS``), and installs the entry with :meth:`qmtl_utils.runtime.cache.Cache.put`
(a temporary folder renamed into place, so a reader sees a whole entry or none). Float reductions
on a CPU depend on the thread count and on nothing else here, so an entry is the same to the last
bit whichever executor computed it and however many workers ran beside it (tests/test_executor.py
compares serial, local and Ray). The keys are computed once, by the driver, from the same params,
upstream keys and code fingerprint the study's loop uses, so every executor fills the same entries.

A failing unit does not stop the others: :func:`prefetch` waits for all of them and then raises
:class:`UnitsFailed` with each failed unit's traceback. Everything that finished is in the cache,
so a rerun computes only what failed.

On a cluster every node must see the cache directory and the repository at the same paths (a
shared filesystem): the workers read their inputs from the cache and write their entries there.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from qmtl_utils.runtime import progress
from qmtl_utils.runtime.cache import Cache, make_key

EXECUTORS = ("local", "serial", "ray")
DEFAULT_EXECUTOR = "local"
ENV_EXECUTOR = "QMTL_EXECUTOR"  # set by run_all for the notebook kernels
ENV_ADDRESS = "QMTL_RAY_ADDRESS"
ENV_THREADS = "QMTL_UNIT_THREADS"  # torch threads per unit, in every executor (default 1)
ENV_WORKERS = "QMTL_WORKERS"  # processes of the local executor (default: one per CPU core)


class UnitsFailed(RuntimeError):
    """Some units of a stage failed on the executor; the others completed and are cached."""

    def __init__(self, failures: list[tuple[str, str]], total: int):
        self.failures = failures
        lines = [
            f"{len(failures)} of {total} units failed (the other {total - len(failures)} are cached; "
            "a rerun computes only the failed ones):"
        ]
        for label, text in failures:
            last = text.strip().splitlines()[-1] if text.strip() else "?"
            lines.append(f"  - {label}: {last}")
        lines.append("tracebacks:")
        lines += [f"--- {label}\n{text.rstrip()}" for label, text in failures]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Unit:
    """One cache entry to compute: ``compute(folder, **kwargs)`` writes its payload into ``folder``.

    ``compute`` must be a module-level function (a Ray worker imports it by name) that rebuilds what
    it needs from its keyword arguments and the cache; ``gpu``: the unit trains a model and asks for
    one GPU where the cluster has GPUs.
    """

    stage: str
    params: dict
    compute: Callable[..., Any]
    kwargs: dict = field(default_factory=dict)
    upstream: tuple[str, ...] = ()
    code_version: str = ""
    meta: dict | None = None
    label: str = ""
    gpu: bool = False

    @property
    def key(self) -> str:
        return make_key(self.stage, self.params, self.upstream, self.code_version)


def current() -> str:
    """The executor this process was asked to use (``QMTL_EXECUTOR``; default :data:`DEFAULT_EXECUTOR`)."""
    name = os.environ.get(ENV_EXECUTOR, DEFAULT_EXECUTOR) or DEFAULT_EXECUTOR
    if name not in EXECUTORS:
        raise ValueError(f"{ENV_EXECUTOR}={name!r}: choose one of {', '.join(EXECUTORS)}")
    return name


def unit_threads() -> int:
    """Torch threads a unit runs with, in every executor: ``QMTL_UNIT_THREADS``, default 1."""
    return max(1, int(os.environ.get(ENV_THREADS) or 1))


def local_workers() -> int:
    """Processes of the local executor: ``QMTL_WORKERS``, default the machine's CPU cores."""
    return max(1, int(os.environ.get(ENV_WORKERS) or os.cpu_count() or 1))


def compute_unit(root: str, unit: Unit, threads: int) -> tuple[str, str | None, float]:
    """Install ``unit``'s entry in the cache at ``root``, computed with ``threads`` torch threads (the
    caller's thread count is restored); (key, traceback or None, seconds). Every executor calls this."""
    import torch

    start, before = time.perf_counter(), torch.get_num_threads()
    cache = Cache(Path(root))
    try:
        torch.set_num_threads(threads)
        if cache.get(unit.stage, unit.key) is None:
            cache.put(
                unit.stage,
                unit.key,
                lambda folder: unit.compute(folder, **unit.kwargs),
                params=unit.params,
                upstream=unit.upstream,
                code_version=unit.code_version,
                meta=unit.meta,
            )
        return unit.key, None, time.perf_counter() - start
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001 -- reported to the driver with its traceback
        return unit.key, traceback.format_exc(), time.perf_counter() - start
    finally:
        torch.set_num_threads(before)


def _worker_start(path: list[str]) -> None:
    """A local worker's interpreter: the driver's import path, Ctrl-C left to the driver, and its
    output (the training loops' progress lines) discarded: the driver prints one line per unit, and
    a failing unit's traceback comes back with its result."""
    import signal

    sys.path[:0] = [p for p in path if p not in sys.path]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)


def connect(address: str | None = None) -> Any:
    """``ray``, initialised: connected to ``address`` (or ``QMTL_RAY_ADDRESS``), else a local Ray on
    this machine. Workers get the repository on their ``PYTHONPATH`` and the pipeline's hash seed."""
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("the ray executor needs Ray (pinned in requirements.txt; run `bash scripts/setup.sh`)") from exc
    if not ray.is_initialized():
        from qmtl_utils.runtime.paths import repo_root

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        env = {
            "PYTHONPATH": os.pathsep.join(p for p in (str(repo_root()), os.environ.get("PYTHONPATH", "")) if p),
            "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0"),
        }
        ray.init(
            address=address or os.environ.get(ENV_ADDRESS) or None,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": env},
            logging_level="ERROR",
        )
    return ray


def prefetch(cache: Cache, units: list[Unit], *, executor: str | None = None, out=None) -> int:
    """Compute the units whose entries are missing, on the executor; returns how many were computed.

    Each finished unit prints one line and a progress report (run_all's live line); if any failed,
    :class:`UnitsFailed` is raised after all of them finished.
    """
    executor = executor or current()
    out = out or sys.stdout
    missing = list({u.key: u for u in units if cache.get(u.stage, u.key) is None}.values())
    if not missing:
        return 0
    root, threads = str(cache.root.resolve()), unit_threads()
    if executor == "ray":
        results = _ray_results(root, missing, threads, out)
    elif executor == "local" and min(local_workers(), len(missing)) > 1:
        results = _local_results(root, missing, threads, out)
    else:  # serial, or a single unit / worker: no pool to start
        executor = "serial"
        results = ((unit, *compute_unit(root, unit, threads)[1:]) for unit in missing)
    failures, started = [], time.perf_counter()
    for done, (unit, error, seconds) in enumerate(results, 1):
        if error:
            failures.append((unit.label or f"{unit.stage} {unit.key[:12]}", error))
        elapsed = time.perf_counter() - started
        print(
            f"[{executor}] {done}/{len(missing)} {unit.label or unit.stage} {'FAILED' if error else 'done'} "
            f"in {seconds:.1f} s; {elapsed:.0f} s so far, about {elapsed / done * (len(missing) - done):.0f} s to go",
            file=out,
            flush=True,
        )
        progress.report(done, len(missing), unit.label or unit.stage, scope=f"{executor} {id(missing)}", elapsed_s=elapsed)
    if failures:
        raise UnitsFailed(failures, len(missing))
    return len(missing)


def _local_results(root: str, missing: list[Unit], threads: int, out):
    """``(unit, error, seconds)`` as each unit finishes on a pool of local processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    workers = min(local_workers(), len(missing))
    print(
        f"[local] {len(missing)} unit{'s' * (len(missing) != 1)} on {workers} processes, {threads} torch "
        f"thread{'s' * (threads != 1)} each",
        file=out,
        flush=True,
    )
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start, initargs=(list(sys.path),)) as pool:
        futures = {pool.submit(compute_unit, root, unit, threads): unit for unit in missing}
        try:
            for future in as_completed(futures):
                unit = futures[future]
                try:
                    _, error, seconds = future.result()
                except Exception as exc:  # noqa: BLE001 -- the worker died (out of memory, killed, ...)
                    error, seconds = f"{type(exc).__name__}: {exc}", float("nan")
                yield unit, error, seconds
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _ray_results(root: str, missing: list[Unit], threads: int, out):
    """``(unit, error, seconds)`` as each unit finishes as a Ray task."""
    ray = connect()
    gpus = ray.cluster_resources().get("GPU", 0) > 0
    remote = ray.remote(compute_unit)
    pending = {}
    for unit in missing:
        options = {"num_gpus": 1, "num_cpus": threads} if unit.gpu and gpus else {"num_cpus": threads}
        pending[remote.options(**options, max_retries=0).remote(root, unit, threads)] = unit
    print(
        f"[ray] {len(missing)} unit{'s' * (len(missing) != 1)} submitted; cluster: "
        f"{ray.cluster_resources().get('CPU', 0):g} CPUs, {ray.cluster_resources().get('GPU', 0):g} GPUs",
        file=out,
        flush=True,
    )
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        unit = pending.pop(ready[0])
        try:
            _, error, seconds = ray.get(ready[0])
        except Exception as exc:  # noqa: BLE001 -- the worker died (out of memory, node lost, ...)
            error, seconds = f"{type(exc).__name__}: {exc}", float("nan")
        yield unit, error, seconds
