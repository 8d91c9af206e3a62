"""What starting the local executor costs against a local Ray, side by side in one run: seconds from
nothing to two workers that have imported torch and returned a trivial task, and the resident memory
(RSS) of the processes each one starts, on this machine.

    python benchmarks/bench_executors.py [--workers 2] [--rounds 2]

The local executor (:mod:`qmtl_utils.runtime.executor`, the default) is a ``spawn`` process pool;
``ray`` starts a local Ray (raylet, GCS, dashboard-less) and its workers. Both then compute the same
units with the same code (tests/test_ray_smoke.py: byte-identical entries), so start-up and memory
are what tells them apart on a laptop; on a cluster Ray is the one that reaches other nodes.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor


def _task(_: int) -> int:
    import torch

    return int(torch.ones(1).sum())


def _tree_rss_mb(root_pid: int) -> float:
    """RSS (MB) of every process below ``root_pid`` (children, grandchildren…)."""
    import psutil

    total = 0
    for child in psutil.Process(root_pid).children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:  # it ended while we looked
            pass
    return total / 2**20


def local_pool(workers: int) -> tuple[float, float]:
    start = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        assert sum(pool.map(_task, range(workers))) == workers
        seconds = time.perf_counter() - start
        memory = _tree_rss_mb(os.getpid())
    return seconds, memory


def local_ray(workers: int) -> tuple[float, float]:
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    task = ray.remote(num_cpus=1)(_task)
    assert sum(ray.get([task.remote(i) for i in range(workers)])) == workers
    seconds = time.perf_counter() - start
    memory = _tree_rss_mb(os.getpid())
    ray.shutdown()
    return seconds, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rows = {"local process pool": [], "local Ray": []}
    for _ in range(args.rounds):  # alternating, so both see the same machine state
        rows["local process pool"].append(local_pool(args.workers))
        rows["local Ray"].append(local_ray(args.workers))
    print(f"{args.workers} workers, {os.cpu_count()} CPUs; start to first results of one trivial torch task per worker")
    print(f"{'executor':<20} {'seconds (each round)':>28} {'memory of its processes, MB':>30}")
    for name, values in rows.items():
        print(f"{name:<20} {' / '.join(f'{s:.1f}' for s, _ in values):>28} {' / '.join(f'{m:.0f}' for _, m in values):>30}")
    pool, ray_ = (min(s for s, _ in rows[k]) for k in rows)
    print(f"ratio Ray / pool (best start): {ray_ / pool:.1f}x")


if __name__ == "__main__":
    main()
