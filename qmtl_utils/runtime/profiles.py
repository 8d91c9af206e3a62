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
    # Beyond the paper (04b): which (open choice, benchmark) pairs of
    # qmtl_utils.studies.open_choices.CHOICES are trained, on the profile's replicates; "all" = every pair.
    "open_choices": {"runs": "all"},
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
        "description": "offline demo: seeded data with each benchmark's structure, sized to carry signal",
        "is_demo": True,
        # Sizes (issue 12): every test split holds >= 300 labelled examples per task (GLUE: a dev
        # split of 200 per task), so a 10-point accuracy gap over the majority class is significant.
        "data": {
            "glue": {"source": "demo", "n_per_task": 1000, "fallback_encoder": True, "max_length": 32},
            # 8,000 images in five folds of 1,600: the rarest non-blank task (Cardiomegaly, 21 %
            # labelled in the real train.csv) has ~330 labels per test fold
            "chexpert": {"source": "demo", "n_samples": 13_500, "image_size": 48, "n_male": 4000, "n_female": 4000},
            # 1,500 utterances (the real set has 690): test folds of 300
            "mustard": {"source": "demo", "feature_dim": 128, "n_samples": 1500},
        },
        # What differs from the paper: smaller backbones of the same classes (a BiLSTM of 32 units
        # per direction on the 384-wide MiniLM tokens, and a 128-wide projection: 32 and 64 units
        # gave the same classical GLUE mean on seed 0, 0.770 and 0.776, at 24 and 42 ms per update;
        # torchvision's DenseNet with 3 blocks of 2 layers, growth 8, random weights, at 48 px,
        # images decoded once and kept in memory); batch 32 for GLUE with validation every 113
        # updates (half an epoch of the nine tasks) and a patience of 3 checks; CheXpert validates
        # every epoch with a patience of 2 checks, at lr 1e-3 (the paper's 1e-4 fine-tunes ImageNet
        # weights; this backbone starts from random ones). GLUE and CheXpert train until their
        # early-stopping rule stops them.
        "training": {
            "glue": {"replicates": [0, 1, 2], "backbone": {"lstm_hidden": 32, "proj_hidden": 128},
                     "train": {"batch_size": 32, "validate_every": 113, "early_stopping_patience": 3}},
            "chexpert": {"replicates": [0, 1, 2], "image_size": 48, "pretrained": False, "allow_download": False,
                         "in_memory": True,
                         "densenet": {"growth_rate": 8, "block_config": [2, 2, 2], "num_init_features": 16,
                                      "bn_size": 2},
                         "train": {"lr": 1e-3, "max_epochs": 20, "validate_every_epochs": 1,
                                   "early_stopping_patience": 2}},
            # 20 of the paper's 50 epochs (50 cost ~630 s for the four heads on 2 cores); the
            # best-validation checkpoint rule is the paper's; 03a_mustard_fit follows the curves.
            "mustard": {"replicates": [0, 1, 2], "train": {"max_epochs": 20}},
        },
        "task_scaling": {"tasks": [2, 4, 8, 16], "seeds": [0, 1, 2], "n_train": 512, "n_test": 512, "epochs": 15},
        "noise": {"bootstrap": 200},
        # the calibration snapshots simulate at ~1.1 samples/s on 2 cores (benchmarks/bench_hardware.py):
        # 64 of fold 1's 1,600 test samples
        "hardware": {"n_samples": 64},
        # within ~8 minutes on 2 cores: three QMTL choices on Extended MUStARD (the benchmark where
        # the literal QMTL head does not fit, and the cheapest runs: ~35 s each), the encoding order
        # on CheXpert too (10 of its 30 features are dead in the literal reading), and the HQNN
        # ansatz without its trainable RY on MUStARD; three folds each. The logit scale is probed on
        # MUStARD by 03a_mustard_fit; GLUE (~100 s per QMTL run and seed) runs in the paper profile.
        "open_choices": {"runs": [["encoding_written", "mustard"], ["encoding_written", "chexpert"],
                                  ["angle_pi_tanh", "mustard"], ["task_weight_1", "mustard"],
                                  ["hqnn_no_ry", "mustard"]]},
    },
    "smoke": {
        "description": "smallest settings that exercise every code path (CI)",
        "is_demo": True,
        "scaling": {"tasks": [1, 2, 4, 8]},
        "data": {
            "glue": {"source": "demo", "n_per_task": 40, "fallback_encoder": True, "max_length": 16},
            "chexpert": {"source": "demo", "n_samples": 300, "image_size": 32, "n_male": 100, "n_female": 100},
            "mustard": {"source": "demo", "feature_dim": 32, "n_samples": 690},
        },
        "training": {
            "glue": {"replicates": [0], "backbone": {"lstm_hidden": 16, "proj_hidden": 32},
                     "train": {"batch_size": 16, "max_epochs": 1, "validate_every": 10}},
            "chexpert": {"replicates": [0], "image_size": 32, "batch_size_hqnn": 32, "pretrained": False,
                         "allow_download": False, "densenet": {"growth_rate": 8, "block_config": [1, 1],
                                                               "num_init_features": 8, "bn_size": 2},
                         "train": {"max_epochs": 1, "validate_every_epochs": 1}},
            "mustard": {"replicates": [0], "train": {"max_epochs": 2}},
        },
        "task_scaling": {"tasks": [2, 4], "seeds": [0], "n_train": 128, "n_test": 128, "epochs": 2},
        "shot_budget": {"shots_per_setting": [16, 256], "seeds": [0]},
        "noise": {"levels": [0.05, 0.2], "shots": 256, "n_samples": 8, "shot_seeds": 2, "bootstrap": 20},
        "hardware": {"backends": ["ibm_fez"], "shots": 256, "n_samples": 4},
        "open_choices": {"runs": [["encoding_written", "mustard"], ["hqnn_no_ry", "mustard"]]},
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
