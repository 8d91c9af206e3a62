"""Why the demo's Fig. 11 reads few samples: the calibration-snapshot simulation of §7 against the
noiseless Aer readout, side by side in one process.

    python benchmarks/bench_hardware.py [--samples 64] [--backend ibm_fez] [--shots 1024]

Samples per second of :func:`qmtl_utils.quantum.hardware.run_on_backend` (``mode="fake"``: the
backend's noise model on the transpiled circuit, one EstimatorV2 job per batch) and of
:func:`qmtl_utils.quantum.aer_noise.aer_expectation_values` at ``p = 0`` (the figure's noiseless
reference), for a random CheXpert QMTL head on ``--samples`` random inputs, and their ratio. The
hardware records go to a throw-away cache, so every call simulates.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from qmtl_utils.models.factory import make_head
from qmtl_utils.quantum import aer_noise, hardware
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.spec import benchmark_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--backend", default="ibm_fez")
    parser.add_argument("--shots", type=int, default=1024)
    args = parser.parse_args()
    torch.manual_seed(0)
    head = make_head(benchmark_spec("chexpert"), "qmtl").eval()
    z = np.random.default_rng(0).normal(size=(args.samples, head.config.d)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        hardware.run_on_backend(head, z, args.backend, mode="fake", shots=args.shots, seed=7, cache=Cache(folder))
        fake = time.perf_counter() - start
    start = time.perf_counter()
    aer_noise.aer_expectation_values(head, z, 0.0, args.shots, 7)
    exact = time.perf_counter() - start
    print(f"{args.samples} samples, {args.shots} shots per setting")
    print(f"calibration snapshot ({args.backend}): {args.samples / fake:8.2f} samples/s ({fake:.1f} s)")
    print(f"noiseless Aer, p = 0:           {args.samples / exact:8.2f} samples/s ({exact:.1f} s)")
    print(f"ratio: the snapshot is {fake / exact:.0f}x slower")


if __name__ == "__main__":
    main()
