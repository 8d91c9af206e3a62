"""What the paper profile needs from a GPU, measured in one short run (``scripts/gpu_check.sh``).

    python benchmarks/gpu_check.py [--device cuda] [--out gpu_check.json] [--quick]

Each section times the paper's sizes on synthetic tensors (no data, no downloads) and records the
numbers in one JSON:

* ``simulator``: the fast QMTL simulator's forward + backward (CheXpert head, Q = 10, float32) at
  batch 256 … 8,192 on the device, and PennyLane ``default.qubit`` (backprop, torch) on the same
  device and inputs at the smallest batch, with the largest output difference between them;
* ``densenet121``: training steps of torchvision's DenseNet121 (random weights) at 320 px, batch 32,
  images per second;
* ``bert_base``: encoding throughput of ``bert-base-uncased``'s architecture built from its
  configuration (random weights: the speed is the architecture's), 128 tokens, sentences per second;
* ``noisy``: the exact noisy density-matrix path of §6.3 (``noisy_expectation_values``, p = 0.01) on
  the device, samples per second;
* ``plan``: ``run_all.sh --plan``'s calibration on the device and the whole paper profile's plan
  (units, expected and full-length hours, disk per stage) against an empty cache.

``--quick`` shrinks every size so the whole script runs on a CPU in seconds (what the test does);
its numbers are not the GPU's. Each section is timed after one warm-up and synchronised on CUDA.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device, repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def simulator(device: torch.device, batches, repeats: int) -> dict:
    from qmtl_utils.models.factory import make_head
    from qmtl_utils.spec import benchmark_spec

    torch.manual_seed(0)
    head = make_head(benchmark_spec("chexpert"), "qmtl").to(device)
    rows = []
    for batch in batches:
        z = torch.randn(batch, head.config.d, device=device, requires_grad=True)

        def step():
            head.zero_grad(set_to_none=True)
            head.expectation_values(z).sum().backward()

        seconds = _timed(step, device, repeats)
        rows.append({"batch": batch, "seconds": seconds, "samples_per_s": batch / seconds})
    z = torch.randn(batches[0], head.config.d, device=device)
    with torch.no_grad():
        fast = head.expectation_values(z)
    head.backend = "pennylane"
    try:
        start = time.perf_counter()
        with torch.no_grad():
            reference = head.expectation_values(z)
        _sync(device)
        pennylane = {
            "batch": batches[0],
            "seconds": time.perf_counter() - start,
            "max_abs_diff": float((fast - reference.to(fast.dtype)).abs().max()),
        }
    except Exception as exc:  # noqa: BLE001 - a device PennyLane cannot use is a result, not a crash
        pennylane = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        head.backend = "fast"
    return {"head": "CheXpert QMTL, Q=10, L=3, float32", "fast": rows, "pennylane_default_qubit": pennylane}


def densenet121(device: torch.device, size: int, batch: int, repeats: int) -> dict:
    from torchvision.models import densenet121 as build

    torch.manual_seed(0)
    net = build(weights=None).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    images = torch.randn(batch, 3, size, size, device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        net(images).sum().backward()
        optimizer.step()

    seconds = _timed(step, device, repeats)
    return {"image_size": size, "batch": batch, "seconds_per_step": seconds, "images_per_s": batch / seconds}


def bert_base(device: torch.device, tokens: int, batch: int, repeats: int, layers: int | None = None) -> dict:
    from transformers import BertConfig, BertModel

    config = BertConfig()  # bert-base-uncased's architecture: 12 layers, 768 wide
    if layers:
        config.num_hidden_layers = layers
    torch.manual_seed(0)
    model = BertModel(config).to(device).eval()
    ids = torch.randint(0, config.vocab_size, (batch, tokens), device=device)

    @torch.no_grad()
    def encode():
        model(input_ids=ids).last_hidden_state.half()

    seconds = _timed(encode, device, repeats)
    return {"layers": config.num_hidden_layers, "tokens": tokens, "batch": batch, "sentences_per_s": batch / seconds}


def noisy(device: torch.device, batch: int, repeats: int) -> dict:
    from qmtl_utils.models.factory import make_head
    from qmtl_utils.quantum.exact_noise import noisy_expectation_values
    from qmtl_utils.spec import benchmark_spec

    torch.manual_seed(0)
    head = make_head(benchmark_spec("chexpert"), "qmtl").to(device)
    z = torch.randn(batch, head.config.d, device=device)
    seconds = _timed(lambda: noisy_expectation_values(head, z, p=0.01), device, repeats)
    return {"p": 0.01, "batch": batch, "samples_per_s": batch / seconds}


def paper_plan(device: torch.device, quick: bool) -> dict:
    """``run_all.sh --plan``'s calibration on this device and the whole paper profile's plan against an
    empty cache (the smoke profile with ``quick``): per-stage expected and full-length hours."""
    import tempfile

    from qmtl_utils.runtime import profiles
    from qmtl_utils.runtime.cache import Cache
    from qmtl_utils.studies import plan

    name = "smoke" if quick else "paper"
    calibration = plan.measure_costs(profiles.get_profile(name), device=str(device), verbose=False)
    with tempfile.TemporaryDirectory() as folder:
        the_plan = plan.make_plan(name, Cache(folder), calibration)
    stages: dict[str, dict] = {}
    for unit in the_plan.units:
        row = stages.setdefault(unit.stage, {"units": 0, "expected_h": 0.0, "at_most_h": 0.0, "disk_gb": 0.0})
        row["units"] += 1
        row["expected_h"] += (unit.seconds or 0) / 3600
        row["at_most_h"] += (unit.seconds_max or 0) / 3600
        row["disk_gb"] += unit.disk / 1e9
    return {
        "profile": name,
        "steps": calibration["steps"],
        "stages": stages,
        "total_at_most_h": sum(s["at_most_h"] for s in stages.values()),
        "total_disk_gb": sum(s["disk_gb"] for s in stages.values()),
    }


def run(device: str = "cuda", quick: bool = False) -> dict:
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            "gpu_check: no CUDA device is visible (torch.cuda.is_available() is False); "
            "run it on a GPU machine, or pass --device cpu --quick to try the script"
        )
    repeats = 1 if quick else 3
    sections = {
        "simulator": lambda: simulator(dev, (32, 64) if quick else (256, 1024, 4096, 8192), repeats),
        "densenet121": lambda: densenet121(dev, 64 if quick else 320, 2 if quick else 32, repeats),
        "bert_base": lambda: bert_base(dev, 16 if quick else 128, 4 if quick else 256, repeats, 1 if quick else None),
        "noisy": lambda: noisy(dev, 4 if quick else 1024, repeats),
        "plan": lambda: paper_plan(dev, quick),
    }
    out = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": str(dev),
        "quick": quick,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
    }
    for name, section in sections.items():
        start = time.perf_counter()
        try:
            out[name] = section()
        except Exception as exc:  # noqa: BLE001 - report the failing section and go on with the others
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        out[name]["section_wall_s"] = round(time.perf_counter() - start, 2)
        print(f"[gpu_check] {name}: {json.dumps(out[name])}", flush=True)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default="gpu_check.json")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script, not the device")
    args = parser.parse_args(argv)
    result = run(args.device, args.quick)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
    print(f"[gpu_check] wrote {args.out}")


if __name__ == "__main__":
    main()
