"""Depolarizing-noise readout of the CheXpert head (§6.3): Qiskit Aer vs the exact PyTorch path.

    python benchmarks/bench_noise.py [--p 0.05] [--shots 1024] [--aer-samples 64] [--threads 1]

Samples per second, in one process, side by side: today's Aer path
(:func:`qmtl_utils.quantum.aer_noise.aer_expectation_values`, default settings: ``density_matrix``,
``BackendEstimatorV2``, ``--shots`` per measurement setting) on ``--aer-samples`` samples, and
:mod:`qmtl_utils.quantum.exact_noise` in float32 (best of ``--repeats`` after a warm-up) at batch 64 and
larger, both exact (:func:`~qmtl_utils.quantum.exact_noise.noisy_expectation_values`) and with the same shots
(:func:`~qmtl_utils.quantum.exact_noise.noisy_sample_expvals`, the like-for-like comparison); on CUDA as well
where a GPU exists. Then the agreement: the largest ``|difference|`` of the exact values against
Aer's exact noisy values (:func:`~qmtl_utils.quantum.aer_noise.aer_exact_expectation_values`) in float32 and
float64, and the largest z-score of Aer's shot estimates around the exact values. On a shared
machine use ``--threads 1`` (it sets torch's threads; Aer keeps its own defaults).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from qmtl_utils.models.factory import qmtl_config
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum.aer_noise import aer_exact_expectation_values, aer_expectation_values
from qmtl_utils.quantum.exact_noise import noisy_expectation_values, noisy_sample_expvals
from qmtl_utils.spec import BENCHMARKS


def best_rate(fn, z: torch.Tensor, repeats: int, cuda: bool = False) -> float:
    """Samples per second of ``fn(z)``, best of ``repeats`` after one warm-up call."""
    best = float("inf")
    for attempt in range(repeats + 1):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn(z)
        if cuda:
            torch.cuda.synchronize()
        if attempt:
            best = min(best, time.perf_counter() - start)
    return len(z) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=float, default=0.05)
    parser.add_argument("--shots", type=int, default=1024)
    parser.add_argument("--aer-samples", type=int, default=64)
    parser.add_argument("--check-samples", type=int, default=8, help="samples for Aer's exact values")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024, 4096])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = qmtl_config(BENCHMARKS["chexpert"])
    head = QMTLHead(config)
    z = torch.rand(max(args.batches + [args.aer_samples, args.check_samples]), config.d) * 2 * np.pi  # float32

    import qiskit_aer

    print(
        f"torch {torch.__version__}, qiskit-aer {qiskit_aer.__version__}, {args.threads} torch thread(s); "
        f"CheXpert head (Q = {config.n_qubits}, L = {config.n_layers}, {config.n_tasks} tasks), "
        f"p = {args.p}, {args.shots} shots per setting, float32"
    )
    start = time.perf_counter()
    aer_shots, info = aer_expectation_values(head, z[: args.aer_samples], args.p, shots=args.shots)
    aer_rate = args.aer_samples / (time.perf_counter() - start)
    rows = [("aer (BackendEstimatorV2, shots)", "cpu", args.aer_samples, aer_rate)]
    ours = {}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for batch in args.batches:
            x = z[:batch].to(device)
            exact = best_rate(lambda v: noisy_expectation_values(head, v, args.p), x, args.repeats, device == "cuda")
            shots = best_rate(
                lambda v: noisy_sample_expvals(head, v, args.p, args.shots, seed=0), x, args.repeats, device == "cuda"
            )
            rows += [("quantum.exact_noise exact", device, batch, exact), ("quantum.exact_noise shots", device, batch, shots)]
            ours[device, batch] = (exact, shots)
    print(f"{'path':<34} {'device':>6} {'batch':>6} {'samples/s':>11}")
    for name, device, batch, rate in rows:
        print(f"{name:<34} {device:>6} {batch:>6} {rate:>11.1f}")
    if ("cpu", 64) in ours:
        exact, shots = ours["cpu", 64]
        print(
            f"ratio at batch 64 on cpu (quantum.exact_noise / aer): {shots / aer_rate:.0f}x with shots, "
            f"{exact / aer_rate:.0f}x exact"
        )
    if "cuda" not in devices:
        print("cuda: no GPU, skipped")

    check = z[: args.check_samples]
    reference = aer_exact_expectation_values(head, check, args.p)
    for dtype in (torch.float32, torch.float64):
        ours_exact = noisy_expectation_values(head, check.to(dtype), args.p).double().numpy()
        print(
            f"max |quantum.exact_noise - aer exact| over {len(check)} samples, {str(dtype)[6:]}: "
            f"{np.abs(ours_exact - reference).max():.2e}"
        )
    exact = noisy_expectation_values(head, z[: args.aer_samples].double(), args.p).numpy()
    z_scores = (aer_shots - exact) / np.sqrt(np.clip(1 - exact**2, 1e-12, None) / args.shots)
    print(
        f"aer shot estimates around the exact values: max |z| = {np.abs(z_scores).max():.2f} "
        f"over {z_scores.size} values (Aer wall {info['wall_s']} s)"
    )


if __name__ == "__main__":
    main()
