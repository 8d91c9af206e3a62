"""What the paper profile's noise study (§6.3, ``05_noise``) costs: its pieces timed at the paper's
test-fold size (about 4,000 CheXpert samples) on synthetic features and labels.

    python benchmarks/bench_noise_study.py [--samples 4000] [--replicates 50]

One level = the exact noisy expectation values plus five finite-shot readouts (1,024 shots per
setting, :func:`qmtl_utils.studies.noise_study.evaluate_level`); the bootstrap
(:func:`~qmtl_utils.studies.noise_study.bootstrap_summary`) is timed with ``--replicates`` and scaled
to the profile's 1,000.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from qmtl_utils.models.factory import qmtl_config
from qmtl_utils.models.heads import QMTLHead
from qmtl_utils.runtime.profiles import get_profile
from qmtl_utils.spec import BENCHMARKS
from qmtl_utils.studies.noise_study import bootstrap_summary, evaluate_level


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--replicates", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = get_profile("paper")["noise"]
    torch.manual_seed(0)
    head = QMTLHead(qmtl_config(BENCHMARKS["chexpert"])).double()
    z = np.random.default_rng(0).uniform(0, 2 * np.pi, (args.samples, head.config.d))
    labels = np.random.default_rng(1).choice([-100, 0, 1, 2], size=(args.samples, 5))
    start = time.perf_counter()
    _, estimates, _ = evaluate_level(head, z, 0.05, settings)
    level_s = time.perf_counter() - start
    n_levels = 1 + len(settings["levels"])  # p = 0 and each p; the bootstrap also reads the noiseless readout
    start = time.perf_counter()
    bootstrap_summary(
        head,
        {f"level {i}": estimates for i in range(n_levels + 1)},
        labels,
        args.replicates,
        0,
        reference="level 0",
        compare=f"level {n_levels}",
    )
    boot_s = (time.perf_counter() - start) * settings["bootstrap"] / args.replicates
    print(
        f"{args.samples} samples, {settings['shot_seeds']} shot seeds x {settings['shots']} shots per setting, "
        f"{args.threads} torch thread(s)"
    )
    print(f"one noise level: {level_s:.1f} s; {n_levels} levels: {n_levels * level_s:.0f} s")
    print(f"bootstrap, {settings['bootstrap']} replicates over {n_levels + 1} readouts: about {boot_s:.0f} s")
    print(f"paper-profile noise study: about {n_levels * level_s + boot_s:.0f} s")


if __name__ == "__main__":
    main()
