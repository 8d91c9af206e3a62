"""Forward + backward time of the QMTL head: state vector (``fast``) vs exact MPS (``mps``).

    python benchmarks/bench_mps.py [--batch 64] [--repeats 5] [--threads 1]

Heads with ``L = 3`` (the paper's depth, bond dimension χ = 8) and ``⌊Q/2⌋`` three-class tasks on
``S_t = 2`` qubits, float32, batch 64. Both backends are timed side by side in one process (best
of ``--repeats``, in alternation) at Q = 10, 13, 16; the MPS alone at Q = 32, 64, 128, where a
state vector of 2^Q amplitudes no longer fits in memory. On a shared machine use ``--threads 1``:
oversubscribed OpenMP threads slow the MPS's many small matrix products down by orders of magnitude.
"""

from __future__ import annotations

import argparse
import time

import torch

from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum.config import QMTLConfig


def step(head: QMTLHead, z: torch.Tensor) -> None:
    """One forward + backward of the sum of all logits (input gradient included)."""
    head.zero_grad(set_to_none=True)
    torch.cat(head(z.detach().requires_grad_(True)), dim=1).sum().backward()


def best_times(head: QMTLHead, z: torch.Tensor, backends: tuple[str, ...], repeats: int) -> dict[str, float]:
    best = {}
    for attempt in range(repeats + 1):  # the first round is a warm-up
        for backend in backends:
            head.backend = backend
            start = time.perf_counter()
            step(head, z)
            if attempt:
                best[backend] = min(best.get(backend, float("inf")), time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, L = 3, float32")
    print(f"{'Q':>4} {'fast [ms]':>10} {'mps [ms]':>10}")
    for n_qubits in (10, 13, 16, 32, 64, 128):
        head = QMTLHead(QMTLConfig(n_qubits, 3, (3,) * (n_qubits // 2)))
        z = torch.randn(args.batch, head.config.d)
        backends = ("fast", "mps") if n_qubits <= 16 else ("mps",)
        times = best_times(head, z, backends, args.repeats)
        fast = f"{1e3 * times['fast']:10.1f}" if "fast" in times else f"{'-':>10}"
        print(f"{n_qubits:>4} {fast} {1e3 * times['mps']:10.1f}")


if __name__ == "__main__":
    main()
