"""Benchmark: our simulator vs PennyLane on the CheXpert QMTL head (forward + backward).

    python -m qmtl_utils.studies.simulator_speed            # table
    python -m qmtl_utils.studies.simulator_speed --json     # machine-readable

Configuration (Appendix B.2): Q=10, L=3, five tasks of S_t=2 qubits with {Z0, Z1, X0X1}, L_h=1.
Every method is timed in the same process, side by side, on the same inputs and weights:

* ``fast``: :func:`qmtl_utils.quantum.statevector.qmtl_expvals` (this package);
* ``pennylane-backprop``: PennyLane ``default.qubit``, torch interface, backprop, broadcasting;
* ``pennylane-param-shift``: PennyLane parameter shift, a few samples one at a time (it cannot
  broadcast trainable inputs, NOTES.md), gradients w.r.t. the weights only.

Reported: samples/s (best of ``--repeats``, the two methods timed in alternation), speed-up ratios, and the
largest difference of the outputs and of the weight and input gradients between methods.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum.config import QMTLConfig

CHEXPERT_HEAD = QMTLConfig(n_qubits=10, n_layers=3, task_outputs=(3,) * 5, head_layers=1)


def _step(head: QMTLHead, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Forward + backward of the sum of all raw expectation values; returns outputs and grads."""
    head.zero_grad(set_to_none=True)
    z = z.detach().requires_grad_(True)
    out = head.expectation_values(z)
    out.sum().backward()
    grads = [p.grad.detach().clone() for p in head.parameters()] + [z.grad.detach().clone()]
    return out.detach(), grads


def _best_times(fns: dict, repeats: int) -> dict:
    """Best wall time of each function, timed in alternation so that both see the same machine
    (a shared CPU's speed drifts; interleaving keeps the ratio honest)."""
    for fn in fns.values():
        fn()  # warm-up (first-call caches, QNode construction)
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _max_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def param_shift_grads(head: QMTLHead, z: torch.Tensor) -> list[torch.Tensor]:
    """Weight gradients of ``sum(expectation values)`` by PennyLane parameter shift, sample by sample."""
    qnode = head.qnode(diff_method="parameter-shift")
    weights = [p.detach().clone().requires_grad_(True) for p in (head.encoder_weights, *head.task_weights)]
    total = sum(torch.stack(list(qnode(z[i], *weights))).sum() for i in range(z.shape[0]))
    total.backward()
    return [w.grad for w in weights]


def run(batches=(32, 256), repeats: int = 5, shift_samples: int = 2, seed: int = 0,
        dtype: torch.dtype = torch.float32) -> dict:
    torch.manual_seed(seed)
    head = QMTLHead(CHEXPERT_HEAD).to(dtype)
    results = {"config": "CheXpert QMTL head: Q=10, L=3, 5 tasks x 2 qubits {Z0,Z1,X0X1}, L_h=1",
               "dtype": str(dtype).replace("torch.", ""), "torch_threads": torch.get_num_threads(),
               "machine": platform.processor() or platform.machine(), "batches": {}}
    for batch in batches:
        z = torch.randn(batch, CHEXPERT_HEAD.d, dtype=dtype)
        def step_with(backend):
            def step():
                head.backend = backend
                return _step(head, z)
            return step

        steps = {backend: step_with(backend) for backend in ("fast", "pennylane")}
        outputs = {backend: step() for backend, step in steps.items()}
        row = {f"{backend}_samples_per_s": batch / seconds
               for backend, seconds in _best_times(steps, repeats).items()}
        head.backend = "fast"
        row["speedup_vs_pennylane_backprop"] = row["fast_samples_per_s"] / row["pennylane_samples_per_s"]
        row["max_output_diff"] = float((outputs["fast"][0] - outputs["pennylane"][0]).abs().max())
        row["max_grad_diff"] = _max_diff(outputs["fast"][1], outputs["pennylane"][1])
        results["batches"][str(batch)] = row
    # Parameter shift: a few samples, weight gradients only.
    z = torch.randn(shift_samples, CHEXPERT_HEAD.d, dtype=dtype)
    start = time.perf_counter()
    shift = param_shift_grads(head, z)
    shift_rate = shift_samples / (time.perf_counter() - start)
    _, fast_grads = _step(head, z)
    results["param_shift"] = {
        "samples": shift_samples,
        "samples_per_s": shift_rate,
        "fast_speedup": results["batches"][str(max(batches))]["fast_samples_per_s"] / shift_rate,
        "max_grad_diff_vs_fast": _max_diff(shift, fast_grads[: len(shift)]),
    }
    return results


def print_table(results: dict) -> None:
    print(f"{results['config']} ({results['dtype']}, {results['torch_threads']} torch threads)")
    print(f"{'batch':>6} {'ours samples/s':>15} {'PennyLane bp':>13} {'ratio':>7} {'max |dout|':>11} {'max |dgrad|':>12}")
    for batch, row in results["batches"].items():
        print(f"{batch:>6} {row['fast_samples_per_s']:>15.0f} {row['pennylane_samples_per_s']:>13.0f} "
              f"{row['speedup_vs_pennylane_backprop']:>6.1f}x {row['max_output_diff']:>11.1e} {row['max_grad_diff']:>12.1e}")
    ps = results["param_shift"]
    print(f"parameter shift ({ps['samples']} samples): {ps['samples_per_s']:.2f} samples/s; ours is "
          f"{ps['fast_speedup']:.0f}x faster; max |dgrad| vs ours {ps['max_grad_diff_vs_fast']:.1e}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeats", type=int, default=7, help="timing repeats (best is kept)")
    parser.add_argument("--float64", action="store_true", help="time in float64 (default: float32, as in training)")
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 256], help="batch sizes (default: 32 256)")
    parser.add_argument("--shift-samples", type=int, default=2, help="samples for parameter shift (default: 2)")
    args = parser.parse_args(argv)
    results = run(batches=tuple(args.batches), repeats=args.repeats, shift_samples=args.shift_samples,
                  dtype=torch.float64 if args.float64 else torch.float32)
    print(json.dumps(results, indent=2) if args.json else "", end="")
    if not args.json:
        print_table(results)


if __name__ == "__main__":
    main()
