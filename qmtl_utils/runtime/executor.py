"""Where the independent units of a study run: in the notebook's own process (serial, the default)
or as tasks on a Ray cluster (``bash run_all.sh --executor ray [--address ADDRESS]``).

A *unit* is one cache entry that nothing else in its stage depends on while it is computed: a
training run (benchmark, head, seed or fold, ablation or open-choice setting), a task-scaling run,
a noise level. The studies describe their missing units with :class:`Unit` and hand them to
:func:`prefetch` before their own loop; under the serial executor that does nothing, and the loop
computes every entry in order as before. Under Ray, :func:`prefetch` submits each missing unit as a
task with a resource request (one GPU for a training run where the cluster has GPUs, one CPU
otherwise); the worker rebuilds its inputs from the cache, computes and installs the entry with
:meth:`qmtl_utils.runtime.cache.Cache.put` (a temporary folder renamed into place, so a reader sees
a whole entry or none), and the study's loop then reads every entry back as a cache hit. The keys
are computed once, by the driver, from the same params, upstream keys and code fingerprint the
serial loop uses, so both executors fill the same cache entries.

A failing task does not stop the others: :func:`prefetch` waits for all of them and then raises
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

EXECUTORS = ("serial", "ray")
ENV_EXECUTOR = "QMTL_EXECUTOR"  # set by run_all for the notebook kernels
ENV_ADDRESS = "QMTL_RAY_ADDRESS"
ENV_THREADS = "QMTL_RAY_TASK_THREADS"  # torch threads per Ray task (default 1 per CPU it reserves, see prefetch)


class UnitsFailed(RuntimeError):
    """Some units of a stage failed on the executor; the others completed and are cached."""

    def __init__(self, failures: list[tuple[str, str]], total: int):
        self.failures = failures
        lines = [f"{len(failures)} of {total} units failed (the other {total - len(failures)} are cached; "
                 "a rerun computes only the failed ones):"]
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
    """The executor this process was asked to use (``QMTL_EXECUTOR``; default serial)."""
    name = os.environ.get(ENV_EXECUTOR, "serial") or "serial"
    if name not in EXECUTORS:
        raise ValueError(f"{ENV_EXECUTOR}={name!r}: choose one of {', '.join(EXECUTORS)}")
    return name


def _compute_unit(root: str, unit: Unit, threads: int) -> tuple[str, str | None, float]:
    """Worker side: install ``unit``'s entry in the cache at ``root`` with ``threads`` torch threads;
    (key, traceback or None, seconds)."""
    start = time.perf_counter()
    cache = Cache(Path(root))
    try:
        import torch

        torch.set_num_threads(threads)
        if cache.get(unit.stage, unit.key) is None:
            cache.put(unit.stage, unit.key, lambda folder: unit.compute(folder, **unit.kwargs), params=unit.params,
                      upstream=unit.upstream, code_version=unit.code_version, meta=unit.meta)
        return unit.key, None, time.perf_counter() - start
    except BaseException:  # noqa: BLE001 -- reported to the driver with its traceback
        return unit.key, traceback.format_exc(), time.perf_counter() - start


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
        env = {"PYTHONPATH": os.pathsep.join(p for p in (str(repo_root()), os.environ.get("PYTHONPATH", "")) if p),
               "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")}
        ray.init(address=address or os.environ.get(ENV_ADDRESS) or None, include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": env}, logging_level="ERROR")
    return ray


def prefetch(cache: Cache, units: list[Unit], *, executor: str | None = None, out=None) -> int:
    """Compute the units whose entries are missing, on the executor; returns how many were computed.

    Serial: nothing happens here (the caller's loop computes each entry in its own process). Ray:
    every missing unit is one task; this waits for all of them, printing one line per finished task,
    and raises :class:`UnitsFailed` if any failed.
    """
    executor = executor or current()
    out = out or sys.stdout
    if executor == "serial" or not units:
        return 0
    missing = list({u.key: u for u in units if cache.get(u.stage, u.key) is None}.values())
    if not missing:
        return 0
    ray = connect()
    gpus = ray.cluster_resources().get("GPU", 0) > 0
    # One torch thread per task, Ray's own convention for a task that reserves one CPU. Float
    # reductions on the CPU depend on the thread count, so the entries match the serial loop's to
    # the last bit only with the serial kernel's count (QMTL_RAY_TASK_THREADS=<torch.get_num_threads()
    # there>, what tests/test_ray_smoke.py sets); that oversubscribes the cores (a demo GLUE run took
    # about 540 s instead of about 31 s on 2 cores, 2026-12-04).
    threads = int(os.environ.get(ENV_THREADS) or 1)
    remote = ray.remote(_compute_unit)
    pending = {}
    for unit in missing:
        options = {"num_gpus": 1, "num_cpus": 1} if unit.gpu and gpus else {"num_cpus": 1}
        pending[remote.options(**options, max_retries=0).remote(str(cache.root.resolve()), unit, threads)] = unit
    print(f"[ray] {len(missing)} unit{'s' * (len(missing) != 1)} submitted "
          f"({len(units) - len(missing)} already cached); cluster: {ray.cluster_resources().get('CPU', 0):g} CPUs, "
          f"{ray.cluster_resources().get('GPU', 0):g} GPUs", file=out, flush=True)
    failures, started, done = [], time.perf_counter(), 0
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        unit = pending.pop(ready[0])
        done += 1
        try:
            _, error, seconds = ray.get(ready[0])
        except Exception as exc:  # noqa: BLE001 -- the worker died (out of memory, node lost, ...)
            error, seconds = f"{type(exc).__name__}: {exc}", float("nan")
        if error:
            failures.append((unit.label or f"{unit.stage} {unit.key[:12]}", error))
        elapsed = time.perf_counter() - started
        print(f"[ray] {done}/{len(missing)} {unit.label or unit.stage} {'FAILED' if error else 'done'} "
              f"in {seconds:.1f} s; {elapsed:.0f} s so far, about {elapsed / done * len(pending):.0f} s to go",
              file=out, flush=True)
        progress.report(done, len(missing), f"{unit.label or unit.stage} on Ray", scope=f"ray {id(missing)}",
                        elapsed_s=elapsed)
    if failures:
        raise UnitsFailed(failures, len(missing))
    return len(missing)
