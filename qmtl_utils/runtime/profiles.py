"""The one place for each profile's settings: ``paper``, ``demo`` and ``smoke``.

* ``paper`` — the paper's settings (real data, GPU recommended; see README).
* ``demo``  — the embedded offline default: same code paths, small seeded data, minutes on a laptop.
  Every figure made under it is labelled as demo data.
* ``smoke`` — the smallest settings that still run every code path; used by CI.

Notebooks receive only ``profile`` (and their own documented parameters) from papermill and read
everything else from here via :func:`get_profile`.
"""

from __future__ import annotations

import copy
from typing import Any

PROFILE_NAMES = ("paper", "demo", "smoke")

_COMMON: dict[str, Any] = {
    "seed": 1234,
    # Fig. 2: capacity-matched scaling sweep (Eqs. (12)-(14)): d = S*T*L, Q = S*T.
    "scaling": {"tasks": list(range(1, 21)), "task_qubits": 2, "outputs_per_task": 3,
                "n_layers": 3, "head_layers": 1},
    # Beyond the paper (04a): accuracy vs number of tasks under Eqs. (12)-(14), T up to 64 (Q = 128
    # on the MPS backend); fields of qmtl_utils.studies.task_scaling.ScalingSettings.
    "task_scaling": {"tasks": [2, 4, 8, 16, 32, 64], "seeds": [0, 1, 2, 3, 4], "n_train": 1024, "n_test": 1024,
                     "epochs": 20},
    # Evaluation of the first fold's trained heads without retraining (04a, 05, 06). ``n_samples``:
    # test samples used (None: the whole test fold); ``shots``: per measurement setting.
    "shot_budget": {"benchmarks": ["chexpert", "mustard"], "shots_per_setting": [16, 64, 256, 1024, 4096, 8192],
                    "seeds": [0, 1, 2], "n_samples": None},
    # §6.3: the exact noisy path on the whole test fold; ``shot_seeds`` finite-shot readouts per level,
    # ``bootstrap`` replicates (test samples and shot seeds) for the intervals; ``granularity``: how
    # gates are counted (qmtl_utils.quantum.noisy; "native" = Aer's gate set, as before).
    "noise": {"levels": [0.01, 0.05, 0.1, 0.2], "shots": 1024, "seed": 7, "n_samples": None, "shot_seeds": 5,
              "granularity": "native", "bootstrap": 1000},
    "hardware": {"backends": ["ibm_fez", "ibm_boston"], "shots": 1024, "seed": 7, "n_samples": None},
}

_COMMON["data"] = {
    # Appendix A.1/B.1: nine tasks from the hub (or the original distribution), frozen
    # bert-base-uncased, sequences of 128 tokens.
    "glue": {"source": "real", "encoder": "bert-base-uncased", "fallback_encoder": False, "max_length": 128,
             "seed": 0},
    # Appendix A.2: 10,000 male + 10,000 female images, 320x320, five folds.
    "chexpert": {"source": "real", "n_male": 10_000, "n_female": 10_000, "frontal_only": False,
                 "n_folds": 5, "seed": 0},
    # Appendix A.3: the authors' utterance text, audio and visual features; their five folds.
    "mustard": {"source": "real", "modalities": ["UT", "UA", "UV"], "seed": 0},
}

_COMMON["training"] = {
    # Appendix C.1: 5 seeds identical across head variants.
    "glue": {"replicates": [0, 1, 2, 3, 4],
             "train": {"lr": 5e-4, "weight_decay": 0.01, "grad_clip": 1.0, "batch_size": 128, "batch_cap": 300,
                       "max_epochs": 15, "validate_every": 2000, "early_stopping_patience": 5}},
    # Appendix C.2: five folds; batch 32 (128 for HQNN); ImageNet weights.
    "chexpert": {"replicates": [0, 1, 2, 3, 4], "image_size": 320, "batch_size": 32, "batch_size_hqnn": 128,
                 "pretrained": True, "allow_download": True,
                 "train": {"lr": 1e-4, "grad_clip": 1.0, "max_epochs": 30, "validate_every_epochs": 2,
                           "early_stopping_patience": 5, "gamma": 2.0, "alpha": 1.0}},
    # Appendix C.3: five folds; task weights 0.2 for QMTL, 1.0 otherwise; 20 % of each training
    # fold held out for checkpoint selection (the paper's "validation set").
    "mustard": {"replicates": [0, 1, 2, 3, 4], "qmtl_task_weight": 0.2, "validation_fraction": 0.2,
                "train": {"lr": 1e-3, "batch_size": 16, "max_epochs": 50}},
}

_PROFILES: dict[str, dict[str, Any]] = {
    "paper": {
        "description": "the paper's settings and data",
        "is_demo": False,
    },
    "demo": {
        "description": "offline demo: small seeded data with each benchmark's structure",
        "is_demo": True,
        "data": {
            "glue": {"source": "demo", "n_per_task": 120, "fallback_encoder": True, "max_length": 32},
            # 1,500 images in five folds of 300: the noise study (05) reads a whole fold of 300 test samples
            "chexpert": {"source": "demo", "n_samples": 2500, "image_size": 32, "n_male": 750, "n_female": 750},
            "mustard": {"source": "demo", "feature_dim": 128},
        },
        "training": {
            "glue": {"replicates": [0, 1, 2], "train": {"batch_size": 32, "max_epochs": 2, "validate_every": 27}},
            "chexpert": {"replicates": [0, 1, 2], "image_size": 32, "batch_size_hqnn": 64, "pretrained": False,
                         "allow_download": False, "train": {"max_epochs": 2, "validate_every_epochs": 1}},
            "mustard": {"replicates": [0, 1, 2], "train": {"max_epochs": 10}},
        },
        "task_scaling": {"tasks": [2, 4, 8, 16], "seeds": [0, 1, 2], "n_train": 512, "n_test": 512, "epochs": 15},
        "noise": {"bootstrap": 200},
        "hardware": {"n_samples": 24},
    },
    "smoke": {
        "description": "smallest settings that exercise every code path (CI)",
        "is_demo": True,
        "scaling": {"tasks": [1, 2, 4, 8]},
        "data": {
            "glue": {"source": "demo", "n_per_task": 40, "fallback_encoder": True, "max_length": 16},
            "chexpert": {"source": "demo", "n_samples": 300, "image_size": 32, "n_male": 100, "n_female": 100},
            "mustard": {"source": "demo", "feature_dim": 32},
        },
        "training": {
            "glue": {"replicates": [0], "train": {"batch_size": 16, "max_epochs": 1, "validate_every": 10}},
            "chexpert": {"replicates": [0], "image_size": 32, "batch_size_hqnn": 32, "pretrained": False,
                         "allow_download": False, "train": {"max_epochs": 1, "validate_every_epochs": 1}},
            "mustard": {"replicates": [0], "train": {"max_epochs": 2}},
        },
        "task_scaling": {"tasks": [2, 4], "seeds": [0], "n_train": 128, "n_test": 128, "epochs": 2},
        "shot_budget": {"shots_per_setting": [16, 256], "seeds": [0]},
        "noise": {"levels": [0.05, 0.2], "shots": 256, "n_samples": 8, "shot_seeds": 2, "bootstrap": 20},
        "hardware": {"backends": ["ibm_fez"], "shots": 256, "n_samples": 4},
    },
}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def get_profile(name: str) -> dict[str, Any]:
    """Settings of profile ``name`` (a fresh copy: mutating it changes nothing global)."""
    if name not in _PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}")
    settings = _merge(_COMMON, _PROFILES[name])
    settings["name"] = name
    return settings
