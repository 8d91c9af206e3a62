"""Milliseconds per training update, split into its parts, for every benchmark and head at the demo
profile's sizes: data (the batch as the protocol builds it), backbone forward, head forward, loss,
backward, optimizer step (with clipping where the protocol clips) and validation (its cost spread
over the updates between two checks), one torch thread (what every executor gives a run).

"Before" is the package as it was at ``--before`` (a git revision, extracted with ``git archive``
into a temporary folder), "after" is the working tree. Each configuration is measured in two
fresh processes, before then after, and the pair is repeated ``--rounds`` times (the median of each
side is printed), so both sides see the same machine state and the ratio in the last column is
measured side by side in one run:

    python benchmarks/bench_update.py                      # before = a2617d7^ (the kernels' parent)
    python benchmarks/bench_update.py --only mustard --heads qmtl hqnnQ --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from qmtl_utils.models.factory import make_head
from qmtl_utils.runtime.profiles import get_profile
from qmtl_utils.spec import BENCHMARKS, HEAD_VARIANTS
from qmtl_utils.training import MultiTaskModel
from qmtl_utils.training.losses import multitask_loss, task_loss

PARTS = ("data", "backbone", "head", "loss", "backward", "optimizer", "validation")


class Timer:
    """Accumulates seconds per named part; ``with timer("head"): ...``."""

    def __init__(self):
        self.seconds = dict.fromkeys(PARTS, 0.0)

    @contextlib.contextmanager
    def __call__(self, part: str):
        start = time.perf_counter()
        yield
        self.seconds[part] += time.perf_counter() - start


def _glue(profile: dict, variant: str, rng: np.random.Generator):
    """A GLUE pair task's update at the demo's sizes: ragged float16 tokens read per batch."""
    import tempfile
    from pathlib import Path

    from qmtl_utils.models.backbones.glue import GlueBackbone, RaggedTokens, TokenFeatures
    from qmtl_utils.training.glue import _inputs

    settings = profile["training"]["glue"]
    spec, batch, rows = BENCHMARKS["glue"], settings["train"]["batch_size"], 800
    folder = tempfile.mkdtemp(prefix="bench-update-")
    sides = []
    for side in "ab":
        lengths = np.clip(np.round(12 * rng.lognormal(0, 0.3, rows)), 3, profile["data"]["glue"]["max_length"])
        values = rng.standard_normal((int(lengths.sum()), 384)).astype(np.float16)
        values.tofile(Path(folder) / f"{side}.f16")
        sides.append(
            RaggedTokens(
                Path(folder) / f"{side}.f16", np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths.astype(np.int64), 384
            )
        )
    features = TokenFeatures(sides[0], sides[0].mask, sides[1], sides[1].mask, torch.randint(0, 2, (rows,)), {})
    model = MultiTaskModel(GlueBackbone(384, spec.d, **settings.get("backbone", {})), make_head(spec, variant))
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    index = [t.name for t in spec.tasks].index("mrpc")
    dev = {"rows": 200, "every": settings["train"]["validate_every"], "tasks": 9}

    def update(timer: Timer):
        with timer("data"):
            picked = torch.from_numpy(rng.choice(rows, batch, replace=False))
            inputs = _inputs(features, picked, torch.device("cpu"))
        with timer("backbone"):
            z = model.backbone(*inputs)
        with timer("head"):
            out = model.head(z)[index]
        with timer("loss"):
            loss = task_loss("binary", out, features.label[picked].float())
        with timer("backward"):
            optimizer.zero_grad()
            loss.backward()
        with timer("optimizer"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

    def validate(timer: Timer):  # every task's dev split, once per ``every`` updates
        with timer("validation"), torch.no_grad():
            model.eval()
            for start in range(0, dev["rows"], 256):
                picked = torch.arange(start, min(start + 256, dev["rows"]))
                model(*_inputs(features, picked, torch.device("cpu")))
            model.train()
        timer.seconds["validation"] *= dev["tasks"] / dev["every"]

    return update, validate


def _chexpert(profile: dict, variant: str, rng: np.random.Generator):
    """A CheXpert step at the demo's sizes: images decoded once and kept in memory, flipped at random."""
    from qmtl_utils.models.backbones.chexpert import ChexpertBackbone
    from qmtl_utils.training.losses import FocalLoss

    settings = profile["training"]["chexpert"]
    spec, size = BENCHMARKS["chexpert"], settings["image_size"]
    batch = settings["batch_size_hqnn"] if variant.startswith("hqnn") else settings["batch_size"]
    images = torch.from_numpy(rng.standard_normal((512, 3, size, size)).astype(np.float32))
    labels = torch.from_numpy(rng.integers(-1, 3, (512, 5))).masked_fill(torch.from_numpy(rng.random((512, 5)) < 0.3), -100)
    labels[labels < 0] = -100
    model = MultiTaskModel(
        ChexpertBackbone(d=spec.d, pretrained=False, allow_download=False, densenet=settings.get("densenet")),
        make_head(spec, variant),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["train"]["lr"])
    loss_fn = FocalLoss(gamma=2.0)
    n_val = 1600

    def update(timer: Timer):
        with timer("data"):
            picked = torch.from_numpy(rng.choice(len(images), batch, replace=False))
            x = images[picked]
            flip = torch.rand(batch) < 0.3
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            y = labels[picked]
        with timer("backbone"):
            z = model.backbone(x)
        with timer("head"):
            outs = model.head(z)
        with timer("loss"):
            loss = sum(loss_fn(o, y[:, t]) for t, o in enumerate(outs))
        with timer("backward"):
            optimizer.zero_grad()
            loss.backward()
        with timer("optimizer"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

    def validate(timer: Timer):  # the validation fold once per epoch
        with timer("validation"), torch.no_grad():
            model.eval()
            for start in range(0, 256, batch):
                model(images[start : start + batch])
            model.train()
        steps_per_epoch = (8000 - 2 * n_val) / batch
        timer.seconds["validation"] *= (n_val / 256) / steps_per_epoch

    return update, validate


def _mustard(profile: dict, variant: str, rng: np.random.Generator):
    """An Extended MUStARD step at the demo's sizes: all five tasks per batch of 16."""
    from qmtl_utils.models.backbones.mustard import MustardProjection

    settings, data = profile["training"]["mustard"], profile["data"]["mustard"]
    spec, batch, n = BENCHMARKS["mustard"], settings["train"]["batch_size"], data["n_samples"]
    x = torch.from_numpy(rng.standard_normal((n, data["feature_dim"])).astype(np.float32))
    y = torch.stack([torch.from_numpy(rng.integers(0, max(t.n_outputs, 2), n)) for t in spec.tasks], 1)
    model = MultiTaskModel(MustardProjection.for_head(variant, x.shape[1], d=spec.d), make_head(spec, variant))
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["train"]["lr"])
    kinds = [t.kind for t in spec.tasks]
    weight = settings["qmtl_task_weight"] if variant == "qmtl" else 1.0
    n_train = int(n * 0.8 * 0.8)

    def update(timer: Timer):
        with timer("data"):
            picked = torch.from_numpy(rng.choice(n, batch, replace=False))
            xb, yb = x[picked], y[picked]
        with timer("backbone"):
            z = model.backbone(xb)
        with timer("head"):
            outs = model.head(z)
        with timer("loss"):
            loss = multitask_loss(kinds, outs, yb, [weight] * len(kinds))
        with timer("backward"):
            optimizer.zero_grad()
            loss.backward()
        with timer("optimizer"):
            optimizer.step()

    def validate(timer: Timer):  # the validation rows once per epoch
        n_val = n_train // 4
        with timer("validation"), torch.no_grad():
            model.eval()
            model(x[:n_val])
            model.train()
        timer.seconds["validation"] /= n_train / batch

    return update, validate


BUILDERS = {"glue": _glue, "chexpert": _chexpert, "mustard": _mustard}


ROOT = Path(__file__).resolve().parents[1]
BEFORE = "a2617d7^"  # the parent of the commit that cut the simulator's per-update cost


def measure(benchmark: str, variant: str, repeats: int, profile: dict) -> dict[str, float]:
    """Milliseconds per update of each part (median over ``repeats`` updates after two warm-ups)."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    update, validate = BUILDERS[benchmark](profile, variant, rng)
    samples = []
    for i in range(repeats + 2):
        timer = Timer()
        update(timer)
        if i >= 2:
            samples.append(timer.seconds)
    timer = Timer()
    validate(timer)
    out = {part: 1e3 * float(np.median([s[part] for s in samples])) for part in PARTS if part != "validation"}
    out["validation"] = 1e3 * timer.seconds["validation"]
    out["total"] = sum(out.values())
    return out


def checkout(revision: str, folder: Path) -> Path:
    """The package as it was at ``revision``, extracted into ``folder`` (no working-tree changes)."""
    archive = subprocess.run(["git", "archive", revision, "qmtl_utils"], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def in_process(package_root: Path, benchmark: str, variant: str, repeats: int, threads: int) -> dict[str, float]:
    """:func:`measure` in a fresh Python process that imports the package from ``package_root``."""
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    out = subprocess.run(
        [sys.executable, __file__, "--worker", benchmark, variant, "--repeats", str(repeats), "--threads", str(threads)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=list(BUILDERS), choices=list(BUILDERS))
    parser.add_argument("--heads", nargs="+", default=list(HEAD_VARIANTS), choices=list(HEAD_VARIANTS))
    parser.add_argument("--repeats", type=int, default=15, help="updates timed per process (median)")
    parser.add_argument("--rounds", type=int, default=2, help="before/after process pairs per configuration")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--before", default=BEFORE, help=f"git revision of the 'before' package (default {BEFORE})")
    parser.add_argument("--worker", nargs=2, metavar=("BENCHMARK", "HEAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        import qmtl_utils

        assert Path(qmtl_utils.__file__).resolve().is_relative_to(Path(os.environ.get("PYTHONPATH", ROOT)).resolve())
        print(json.dumps(measure(*args.worker, args.repeats, get_profile("demo"))))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-update-before-") as folder:
        before_root = checkout(args.before, Path(folder))
        revision = subprocess.run(
            ["git", "rev-parse", "--short", args.before], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        print(
            f"ms per update at the demo's sizes, {args.threads} torch thread(s); before = {args.before} ({revision}), "
            f"after = working tree; median of {args.repeats} updates per process, {args.rounds} process pair(s)"
        )
        print(f"{'benchmark':<9} {'head':<9} {'':<6} " + " ".join(f"{p:>10}" for p in (*PARTS, "total")) + "   after/before")
        for benchmark in args.only:
            for variant in args.heads:
                runs = {"before": [], "after": []}
                for _ in range(args.rounds):
                    for name, root in (("before", before_root), ("after", ROOT)):
                        runs[name].append(in_process(root, benchmark, variant, args.repeats, args.threads))
                rows = {name: {p: float(np.median([r[p] for r in rs])) for p in (*PARTS, "total")} for name, rs in runs.items()}
                for name, row in rows.items():
                    ratio = f"   {row['total'] / rows['before']['total']:.2f}x" if name == "after" else ""
                    print(
                        f"{benchmark:<9} {variant:<9} {name:<6} "
                        + " ".join(f"{row[p]:>10.2f}" for p in (*PARTS, "total"))
                        + ratio,
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
