"""Benchmark: our simulator vs PennyLane and tensorcircuit-ng on a QMTL head (forward + backward).

    python -m qmtl_utils.studies.simulator_speed                     # both heads, batches 16 32 256
    python -m qmtl_utils.studies.simulator_speed --head mustard      # one head
    python -m qmtl_utils.studies.simulator_speed --json              # machine-readable

Heads (``--head chexpert|mustard|both``, default both):

* ``chexpert`` (Appendix B.2): Q=10, L=3, five tasks of S_t=2 qubits with {Z0, Z1, X0X1}, L_h=1;
* ``mustard``: the head training builds, ``make_head(BENCHMARKS["mustard"], "qmtl")``: Q=13, L=3,
  S_t = (1, 2, 2, 4, 4), r_t = (1, 3, 3, 9, 9), L_h=1.

Default batches 16, 32 (MUStARD's and CheXpert's training batch sizes) and 256, one torch thread
(``--threads``; every training unit runs with one). Every method is timed in the same process, side
by side, on the same inputs and weights:

* ``fast``: :func:`qmtl_utils.quantum.statevector.qmtl_expvals` (this package);
* ``pennylane``: PennyLane ``default.qubit``, torch interface, backprop, broadcasting; batches
  above :func:`pennylane_chunk` (64 samples for MUStARD, whose backprop keeps ~68 MB per sample)
  in chunks, marked ``*`` in the table;
* ``tensorcircuit``: tensorcircuit-ng, torch backend, complex64 (complex128 with ``--float64``),
  ``vmap`` over the batch, the circuit of :func:`tensorcircuit_circuit` (the same gates in the same
  order as :func:`qmtl_utils.quantum.pennylane_circuits.qmtl_circuit`); only when
  ``import tensorcircuit`` works, else the table says "not installed". It is not a dependency of
  the companion (CI does not install it); to measure it: ``pip install -e ".[bench]"`` (the
  ``bench`` extra of pyproject.toml), or ``pip install --no-deps tensorcircuit-ng tensornetwork-ng
  opt_einsum graphviz`` into a virtualenv that sees the companion's packages;
* ``pennylane-param-shift``: PennyLane parameter shift, a few samples one at a time (it cannot
  broadcast trainable inputs, NOTES.md), gradients w.r.t. the weights only (``--shift-samples 0``
  skips it).

Reported: samples/s (best of ``--repeats``, the methods timed in alternation), our speed-up over each,
and the largest difference of the outputs and of the weight and input gradients between each method
and ours. A method whose outputs or gradients disagree with ours beyond float rounding raises
:class:`MethodMismatch` instead of reporting a speed: a wrong circuit cannot produce a fast number.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time

import torch

from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.quantum.statevector import ladder_pairs

CHEXPERT_HEAD = QMTLConfig(n_qubits=10, n_layers=3, task_outputs=(3,) * 5, head_layers=1)
HEADS = ("chexpert", "mustard")
NOT_INSTALLED = "not installed"
# Largest disagreement with ours that float rounding explains: outputs absolute, gradients relative
# to the largest gradient entry (they are summed over the batch). A wrong gate gives O(0.1).
TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-9}


class MethodMismatch(RuntimeError):
    """A benchmarked method computes other numbers than ours: its speed would mean nothing."""


def make_benchmark_head(name: str) -> QMTLHead:
    """The QMTL head of ``name`` (:data:`HEADS`) as the benchmark times it, Eqs. (2)-(5)."""
    if name == "chexpert":
        return QMTLHead(CHEXPERT_HEAD)
    if name == "mustard":
        from qmtl_utils.models.factory import make_head
        from qmtl_utils.spec import BENCHMARKS

        return make_head(BENCHMARKS["mustard"], "qmtl")
    raise ValueError(f"unknown head {name!r}; use one of {HEADS}")


def _describe(config: QMTLConfig) -> str:
    blocks = ", ".join(f"S={s} {{{','.join(words)}}}" for s, words in zip(config.task_qubits, config.observables))
    return f"Q={config.n_qubits}, L={config.n_layers}, L_h={config.head_layers}, {config.n_tasks} tasks: {blocks}"


# --- tensorcircuit-ng ------------------------------------------------------------------------------


def tensorcircuit_version() -> str | None:
    """tensorcircuit-ng's version, or ``None`` where ``import tensorcircuit`` fails."""
    try:
        import tensorcircuit
    except Exception:  # not installed, or a dependency missing: both mean "cannot measure"
        return None
    return tensorcircuit.__version__


def tensorcircuit_circuit(config: QMTLConfig, dtype: torch.dtype = torch.float32):
    """The QMTL head's circuit, Eqs. (2)-(5), in tensorcircuit-ng (torch backend), batched by ``vmap``.

    Returns ``expvals(z, encoder_weights, *task_weights)`` → ``(batch, Σ r_t)``. The gates and their
    order are those of :func:`qmtl_utils.quantum.pennylane_circuits.qmtl_circuit`: ``H^{⊗Q}``; per
    layer ℓ the data layer ``RX(z_{Qℓ+i})`` (after the trainable rotations with
    ``encoding_order="written"``), ``RZ(θ_ℓi)`` then ``RY(θ_ℓi)``, the CNOT ladder (Eq. (3));
    per task block ``StronglyEntanglingLayers`` as PennyLane decomposes it: per layer ``l``,
    ``Rot(φ, θ, ω) = RZ(ω)·RY(θ)·RZ(φ)`` on each wire, then ``CNOT(w_i, w_{(i+r) mod S})`` with
    range ``r = l mod (S-1) + 1`` when ``S > 1`` (Eq. (4)); the Pauli words of each task (Eq. (5)).
    Sets tensorcircuit's global backend to ``pytorch`` and its dtype to complex64 (complex128 for
    float64 ``dtype``).
    """
    import tensorcircuit as tc

    backend = tc.set_backend("pytorch")
    tc.set_dtype("complex128" if dtype == torch.float64 else "complex64")
    n_qubits = config.n_qubits
    readout = []  # (pauli word as tensorcircuit's x=/y=/z= wire lists) per output, tasks in order
    for words, wires in zip(config.observables, config.task_wires):
        for word in words:
            axes = {"x": [], "y": [], "z": []}
            for letter, wire in zip(word, wires):
                if letter != "I":
                    axes[letter.lower()].append(wire)
            readout.append(axes)

    def one_sample(z, encoder_weights, *task_weights):
        if config.angle_map == "pi_tanh":
            z = math.pi * torch.tanh(z)
        c = tc.Circuit(n_qubits)
        for wire in range(n_qubits):
            c.h(wire)

        def data(layer):
            for wire in range(n_qubits):
                c.rx(wire, theta=z[layer * n_qubits + wire])

        for layer in range(config.n_layers):
            if config.encoding_order == "operator":
                data(layer)
            for wire in range(n_qubits):
                c.rz(wire, theta=encoder_weights[layer, wire])
                c.ry(wire, theta=encoder_weights[layer, wire])
            if config.entangle:
                for control, target in ladder_pairs(n_qubits):
                    c.cnot(control, target)
            if config.encoding_order == "written":
                data(layer)
        for weights, wires in zip(task_weights, config.task_wires):
            n_wires = len(wires)
            for layer in range(weights.shape[0]):
                for i, wire in enumerate(wires):
                    c.rz(wire, theta=weights[layer, i, 0])
                    c.ry(wire, theta=weights[layer, i, 1])
                    c.rz(wire, theta=weights[layer, i, 2])
                if n_wires > 1:
                    step = layer % (n_wires - 1) + 1
                    for i in range(n_wires):
                        c.cnot(wires[i], wires[(i + step) % n_wires])
        # expectation_ps caches the state (reuse=True): one contraction of the circuit per sample
        return torch.stack([backend.real(c.expectation_ps(**axes)) for axes in readout])

    return backend.vmap(one_sample, vectorized_argnums=0)


# --- timing ----------------------------------------------------------------------------------------


def _step(expvals, head: QMTLHead, z: torch.Tensor, chunk: int | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Forward + backward of the sum of all raw expectation values; returns outputs and the gradients
    of the circuit's weights (encoder, then tasks) and of the inputs. ``chunk``: forward + backward
    of at most that many samples at a time, the gradients accumulated (the same sums)."""
    head.zero_grad(set_to_none=True)
    z = z.detach().requires_grad_(True)
    size = chunk or z.shape[0]
    parts = []
    for start in range(0, z.shape[0], size):
        part = expvals(z[start : start + size])
        part.sum().backward()
        parts.append(part.detach())
    out = torch.cat(parts)
    weights = [head.encoder_weights, *head.task_weights]
    grads = [w.grad.detach().clone() for w in weights] + [z.grad.detach().clone()]
    return out.detach(), grads


def _best_times(fns: dict, repeats: int) -> dict:
    """Best wall time of each function, timed in alternation so that all see the same machine
    (a shared CPU's speed drifts; interleaving keeps the ratios honest)."""
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


def _check_agreement(method: str, reference, other, dtype: torch.dtype) -> tuple[float, float]:
    """Largest output and gradient differences of ``other`` from ``reference`` (ours); raises
    :class:`MethodMismatch` beyond :data:`TOLERANCE`."""
    out_diff = float((reference[0] - other[0]).abs().max())
    grad_diff = _max_diff(reference[1], other[1])
    grad_scale = max(1.0, max(float(g.abs().max()) for g in reference[1]))
    tol = TOLERANCE[dtype]
    if not (out_diff <= tol and grad_diff <= tol * grad_scale):  # also catches NaN
        raise MethodMismatch(
            f"{method} disagrees with ours: max |dout| {out_diff:.2e}, max |dgrad| {grad_diff:.2e} "
            f"(tolerance {tol:.0e}, gradients x {grad_scale:.1f})"
        )
    return out_diff, grad_diff


def param_shift_grads(head: QMTLHead, z: torch.Tensor) -> list[torch.Tensor]:
    """Weight gradients of ``sum(expectation values)`` by PennyLane parameter shift, sample by sample."""
    qnode = head.qnode(diff_method="parameter-shift")
    weights = [p.detach().clone().requires_grad_(True) for p in (head.encoder_weights, *head.task_weights)]
    total = sum(torch.stack(list(qnode(z[i], *weights))).sum() for i in range(z.shape[0]))
    total.backward()
    return [w.grad for w in weights]


def pennylane_chunk(n_qubits: int) -> int:
    """Most samples PennyLane's backprop gets at once: ``2^19 / 2^Q`` (512 at Q=10, 64 at Q=13).

    Its backprop keeps every intermediate broadcast state for the backward pass: measured 2026-12-06,
    about 68 MB per sample for the MUStARD head (Q=13; 17 GB at batch 256) and an eighth of that at
    Q=10. Larger batches go through in chunks of this size, gradients accumulated.
    """
    return max(1, 2**19 // 2**n_qubits)


def run(
    batches=(16, 32, 256),
    repeats: int = 5,
    shift_samples: int = 2,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    head: str = "chexpert",
    tensorcircuit: bool = True,
    pennylane_max_batch: int | None = -1,
) -> dict:
    """Time forward + backward of one head (:data:`HEADS`) with every method, side by side.

    ``tensorcircuit=False`` leaves tensorcircuit-ng out even where it is installed;
    ``shift_samples=0`` leaves parameter shift out (``results["param_shift"]`` is then ``None``);
    ``pennylane_max_batch``: PennyLane's chunk size (-1: :func:`pennylane_chunk`; ``None``: never
    chunk), recorded per batch as ``pennylane_chunk`` (``None`` where the batch went in whole).
    """
    torch.manual_seed(seed)
    module = make_benchmark_head(head).to(dtype)
    config = module.config
    version = tensorcircuit_version() if tensorcircuit else None
    max_batch = pennylane_chunk(config.n_qubits) if pennylane_max_batch == -1 else pennylane_max_batch
    results = {
        "head": head,
        "config": f"{head} QMTL head: {_describe(config)}",
        "dtype": str(dtype).replace("torch.", ""),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "tensorcircuit": version if version else (NOT_INSTALLED if tensorcircuit else "not run"),
        "batches": {},
    }

    def ours(z):
        return module.expectation_values(z)

    def pennylane(z):
        module.backend = "pennylane"
        try:
            return module.expectation_values(z)
        finally:
            module.backend = "fast"

    methods = {"fast": ours, "pennylane": pennylane}
    if version:
        tc_expvals = tensorcircuit_circuit(config, dtype)
        methods["tensorcircuit"] = lambda z: tc_expvals(z, module.encoder_weights, *module.task_weights)
    for batch in batches:
        z = torch.randn(batch, config.d, dtype=dtype)
        chunks = {name: None for name in methods}
        if chunked := (max_batch and batch > max_batch):
            chunks["pennylane"] = max_batch
        steps = {name: (lambda fn=fn, name=name: _step(fn, module, z, chunks[name])) for name, fn in methods.items()}
        outputs = {name: step() for name, step in steps.items()}
        # check before timing: a method that computes something else has no speed to report
        diffs = {name: _check_agreement(name, outputs["fast"], outputs[name], dtype) for name in methods if name != "fast"}
        row = {f"{name}_samples_per_s": batch / seconds for name, seconds in _best_times(steps, repeats).items()}
        row["speedup_vs_pennylane_backprop"] = row["fast_samples_per_s"] / row["pennylane_samples_per_s"]
        row["max_output_diff"], row["max_grad_diff"] = diffs["pennylane"]
        row["pennylane_chunk"] = max_batch if chunked else None
        if version:
            row["speedup_vs_tensorcircuit"] = row["fast_samples_per_s"] / row["tensorcircuit_samples_per_s"]
            row["tensorcircuit_max_output_diff"], row["tensorcircuit_max_grad_diff"] = diffs["tensorcircuit"]
        else:
            row.update(
                tensorcircuit_samples_per_s=None,
                speedup_vs_tensorcircuit=None,
                tensorcircuit_max_output_diff=None,
                tensorcircuit_max_grad_diff=None,
            )
        results["batches"][str(batch)] = row
    results["param_shift"] = None
    if shift_samples > 0:  # a few samples, weight gradients only
        z = torch.randn(shift_samples, config.d, dtype=dtype)
        start = time.perf_counter()
        shift = param_shift_grads(module, z)
        shift_rate = shift_samples / (time.perf_counter() - start)
        _, fast_grads = _step(ours, module, z)
        results["param_shift"] = {
            "samples": shift_samples,
            "samples_per_s": shift_rate,
            "fast_speedup": results["batches"][str(max(batches))]["fast_samples_per_s"] / shift_rate,
            "max_grad_diff_vs_fast": _max_diff(shift, fast_grads[: len(shift)]),
        }
    return results


def print_table(results: dict) -> None:
    """The results of :func:`run` as a table: samples/s per method, our ratio over each, differences."""
    print(f"{results['config']} ({results['dtype']}, {results['torch_threads']} torch threads)")
    tc_note = results.get("tensorcircuit", NOT_INSTALLED)
    print(
        f"{'batch':>6} {'ours samples/s':>15} {'PennyLane bp':>13} {'ratio':>7} {'max |dout|':>11} {'max |dgrad|':>12}"
        f" {'tensorcircuit':>14} {'ratio':>7} {'max |dout|':>11} {'max |dgrad|':>12}"
    )
    for batch, row in results["batches"].items():
        line = (
            f"{batch:>6} {row['fast_samples_per_s']:>15.0f} {row['pennylane_samples_per_s']:>12.0f}"
            f"{'*' if row.get('pennylane_chunk') else ' '} "
            f"{row['speedup_vs_pennylane_backprop']:>6.1f}x {row['max_output_diff']:>11.1e} {row['max_grad_diff']:>12.1e}"
        )
        if row.get("tensorcircuit_samples_per_s"):
            line += (
                f" {row['tensorcircuit_samples_per_s']:>14.0f} {row['speedup_vs_tensorcircuit']:>6.1f}x"
                f" {row['tensorcircuit_max_output_diff']:>11.1e} {row['tensorcircuit_max_grad_diff']:>12.1e}"
            )
        else:
            line += f" {tc_note:>14}"
        print(line)
    chunks = sorted({row["pennylane_chunk"] for row in results["batches"].values() if row.get("pennylane_chunk")})
    if chunks:
        print(f"* PennyLane in chunks of {'/'.join(map(str, chunks))} samples, gradients accumulated (its backprop's memory)")
    if tc_note not in (NOT_INSTALLED, "not run"):
        print(f"tensorcircuit-ng {tc_note} (torch backend, vmap); ratio = ours / method")
    ps = results.get("param_shift")
    if ps:
        print(
            f"parameter shift ({ps['samples']} samples): {ps['samples_per_s']:.2f} samples/s; ours is "
            f"{ps['fast_speedup']:.0f}x faster; max |dgrad| vs ours {ps['max_grad_diff_vs_fast']:.1e}"
        )


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m qmtl_utils.studies.simulator_speed``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables: {head: results of run()}")
    parser.add_argument("--head", choices=(*HEADS, "both"), default="both", help="which QMTL head (default: both)")
    parser.add_argument("--repeats", type=int, default=7, help="timing repeats (best is kept)")
    parser.add_argument("--float64", action="store_true", help="time in float64 (default: float32, as in training)")
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 32, 256], help="batch sizes (default: 16 32 256)")
    parser.add_argument("--shift-samples", type=int, default=2, help="samples for parameter shift (default: 2; 0 skips it)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1, as every training unit)")
    parser.add_argument(
        "--pennylane-max-batch",
        type=int,
        default=-1,
        help="PennyLane's largest chunk (default: 2^19 / 2^Q samples, 64 for MUStARD; 0: never chunk)",
    )
    parser.add_argument("--no-tensorcircuit", action="store_true", help="leave tensorcircuit-ng out even if installed")
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    heads = HEADS if args.head == "both" else (args.head,)
    all_results = {}
    for head in heads:
        all_results[head] = run(
            batches=tuple(args.batches),
            repeats=args.repeats,
            shift_samples=args.shift_samples,
            dtype=torch.float64 if args.float64 else torch.float32,
            head=head,
            tensorcircuit=not args.no_tensorcircuit,
            pennylane_max_batch=args.pennylane_max_batch or None,
        )
        if not args.json:
            print_table(all_results[head])
            print()
    if args.json:
        print(json.dumps(all_results, indent=2))


if __name__ == "__main__":
    main()
