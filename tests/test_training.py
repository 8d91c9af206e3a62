"""The Appendix C training protocols (qmtl_utils.training) on tiny seeded problems."""

from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from qmtl_utils.models.backbones.glue import GlueBackbone, TokenFeatures
from qmtl_utils.models.backbones.mustard import MustardProjection
from qmtl_utils.models.heads import ClassicalHeads, QMTLHead
from qmtl_utils.quantum.config import QMTLConfig
from qmtl_utils.training import (
    BestCheckpoint,
    EarlyStopping,
    MultiTaskModel,
    Progress,
    TaskSampler,
    plateau_scheduler,
    train_chexpert,
    train_glue,
    train_mustard,
    validation_split,
)
from qmtl_utils.training.metrics import glue_metrics

# --------------------------------------------------------------------------- TaskSampler


def test_sampler_caps_batches_per_epoch():
    sampler = TaskSampler({"mnli": 3068, "qqp": 2843, "rte": 20, "wnli": 5}, cap=300, seed=0)
    assert len(sampler) == 300 + 300 + 20 + 5
    for epoch in range(3):
        sampler.set_epoch(epoch)
        assert Counter(sampler) == {"mnli": 300, "qqp": 300, "rte": 20, "wnli": 5}


def test_sampler_hand_checked_example():
    # {a: 1, b: 3}: drawing ∝ remaining batches puts a first with P = 1/4, second with
    # P = 3/4 · 1/3 = 1/4, third 3/4 · 2/3 · 1/2 = 1/4, last 1/4.
    sampler = TaskSampler({"a": 1, "b": 3}, seed=7)
    positions = Counter()
    for epoch in range(4000):
        sampler.set_epoch(epoch)
        positions[list(sampler).index("a")] += 1
    for k in range(4):  # binomial sd ≈ 27
        assert abs(positions[k] - 1000) < 150


def test_sampler_draws_proportional_to_remaining_batches():
    counts = {"a": 2, "b": 6, "c": 12}
    sampler = TaskSampler(counts, seed=3)
    first, second_after_c = Counter(), Counter()
    n = 6000
    for epoch in range(n):
        sampler.set_epoch(epoch)
        order = list(sampler)
        first[order[0]] += 1
        if order[0] == "c":
            second_after_c[order[1]] += 1
    for task, count in counts.items():
        assert first[task] / n == pytest.approx(count / 20, abs=0.025)
    remaining = {"a": 2, "b": 6, "c": 11}  # after one c is drawn
    n_c = sum(second_after_c.values())
    for task, count in remaining.items():
        assert second_after_c[task] / n_c == pytest.approx(count / 19, abs=0.035)


def test_sampler_deterministic_per_seed_and_epoch():
    def order(seed, epoch):
        sampler = TaskSampler({"a": 5, "b": 7, "c": 9}, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(1, 2) == order(1, 2)
    assert order(1, 2) != order(1, 3)
    assert order(1, 2) != order(2, 2)


# --------------------------------------------------------------------------- stopping, scheduler, checkpoint


def test_early_stopping_stops_after_exactly_patience_bad_checks():
    stopper = EarlyStopping(patience=3)
    improved = []
    for value in [0.5, 0.6, 0.6, 0.55, 0.59]:
        assert not stopper.should_stop
        improved.append(stopper.step(value))
    assert improved == [True, True, False, False, False]
    assert stopper.should_stop and stopper.best == 0.6


def test_early_stopping_min_mode_and_min_delta():
    stopper = EarlyStopping(patience=1, mode="min", min_delta=0.1)
    assert stopper.step(1.0)
    assert stopper.step(0.8)
    assert not stopper.step(0.75) and stopper.should_stop


def test_plateau_scheduler_factor_and_floor():
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=5e-4)
    scheduler = plateau_scheduler(optimizer, patience=2)
    lrs = []
    for _ in range(20):  # a metric that never improves after the first check
        scheduler.step(0.5)
        lrs.append(optimizer.param_groups[0]["lr"])
    # cut on the 3rd bad check (patience 2), then every 3 checks: 5e-4 · 0.2^k down to 1e-7
    expected = [5e-4] * 3 + [1e-4] * 3 + [2e-5] * 3 + [4e-6] * 3 + [8e-7] * 3 + [1.6e-7] * 3 + [1e-7] * 2
    assert lrs == pytest.approx(expected, rel=1e-9)


def test_plateau_scheduler_keeps_lr_while_improving():
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=5e-4)
    scheduler = plateau_scheduler(optimizer, patience=0)
    for value in [0.1, 0.2, 0.3, 0.4]:
        scheduler.step(value)
    assert optimizer.param_groups[0]["lr"] == 5e-4
    scheduler.step(0.4)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_best_checkpoint_restores_best_not_last():
    model = nn.Linear(2, 1)
    best = BestCheckpoint()
    for epoch, score in enumerate([0.1, 0.9, 0.3, 0.9], start=1):
        with torch.no_grad():
            model.weight.fill_(epoch)
        best.update(score, model, epoch)
    assert (best.score, best.epoch) == (0.9, 2)  # ties keep the first
    best.restore(model)
    assert torch.all(model.weight == 2.0)


def test_multitask_model_and_progress_line(capsys):
    model = MultiTaskModel(nn.Linear(3, 4), ClassicalHeads(4, (1, 3)))
    outputs = model(torch.zeros(5, 3))
    assert [tuple(o.shape) for o in outputs] == [(5, 1), (5, 3)]
    line = Progress("demo", total=4).log(1, "epoch 1/4", {"loss": 0.5, "f1": 0.25})
    assert capsys.readouterr().out.strip() == line
    assert line.startswith("[demo] epoch 1/4 | loss 0.5000 f1 0.2500 |") and "ETA" in line


# --------------------------------------------------------------------------- GLUE (C.1)

GLUE_SPECS = {"sst2": "binary", "stsb": "regression", "mnli": "multiclass"}


def _token_features(n: int, pair: bool, label: torch.Tensor, g: torch.Generator, hidden: int = 8) -> TokenFeatures:
    def sentence():
        tokens = torch.randn(n, 5, hidden, generator=g).half()
        mask = torch.arange(5)[None] < torch.randint(2, 6, (n, 1), generator=g)
        return tokens * mask[..., None], mask

    a, b = sentence(), sentence() if pair else (None, None)
    return TokenFeatures(a[0], a[1], b[0], b[1], label, {})


def _glue_tokens(n_train: int = 40, n_val: int = 16) -> dict:
    g = torch.Generator().manual_seed(0)
    labels = {
        "sst2": lambda n: torch.randint(0, 2, (n,), generator=g),
        "stsb": lambda n: torch.rand(n, generator=g),
        "mnli": lambda n: torch.randint(0, 3, (n,), generator=g),
    }
    return {
        task: {
            split: _token_features(n, task != "sst2", labels[task](n), g)
            for split, n in (("train", n_train), ("validation", n_val))
        }
        for task in GLUE_SPECS
    }


def _glue_model(head: nn.Module, d: int) -> MultiTaskModel:
    torch.manual_seed(0)
    return MultiTaskModel(GlueBackbone(encoder_hidden=8, d=d, proj_hidden=8), head)


def test_train_glue_end_to_end_qmtl_head():
    head = QMTLHead(QMTLConfig(n_qubits=4, n_layers=2, task_outputs=(1, 1, 3), task_kinds=tuple(GLUE_SPECS.values())))
    model = _glue_model(head, d=8)
    settings = {"batch_size": 8, "max_epochs": 2, "validate_every": 3, "early_stopping_patience": 99, "seed": 1, "verbose": False}
    result = train_glue(model, _glue_tokens(), GLUE_SPECS, settings)
    assert set(result) == {
        "metrics",
        "macro_average",
        "validation_outputs",
        "best_update",
        "best_epoch",
        "n_updates",
        "stopped_early",
        "history",
        "wall_time_s",
        "settings",
    }
    for task, outputs in result["validation_outputs"].items():  # the best checkpoint's outputs give its metrics
        again = glue_metrics(task, outputs, _glue_tokens()[task]["validation"].label.numpy())
        assert again["primary"] == pytest.approx(result["metrics"][task]["primary"], abs=1e-6)
    assert result["n_updates"] == 2 * 3 * 5  # 2 epochs × 3 tasks × ceil(40 / 8) batches
    # checks every 3 updates plus one after the last update (30 is a multiple: none extra)
    assert [h["update"] for h in result["history"]] == list(range(3, 31, 3))
    assert set(result["metrics"]) == set(GLUE_SPECS)
    assert all({"primary", "secondary"} <= set(m) for m in result["metrics"].values())
    best = max(result["history"], key=lambda h: h["macro_average"])
    assert result["macro_average"] == best["macro_average"] and result["best_update"] == best["update"]
    assert not result["stopped_early"]


def test_train_glue_scheduler_stopping_and_checkpoint_on_scripted_metrics(monkeypatch):
    import qmtl_utils.training.glue as glue

    scripted = iter([0.5, 0.6, 0.55, 0.55, 0.55, 0.55, 0.55, 0.9])
    monkeypatch.setattr(glue, "evaluate_glue", lambda *a, **k: {"sst2": {"primary": next(scripted)}})
    model = _glue_model(ClassicalHeads(6, (1, 1, 3)), d=6)
    result = train_glue(
        model,
        _glue_tokens(),
        GLUE_SPECS,
        {"batch_size": 8, "max_epochs": 5, "validate_every": 2, "plateau_patience": 1, "verbose": False},
    )
    history = result["history"]
    # best at check 2; 5 bad checks later (check 7) training stops; the LR (logged before each
    # scheduler step) is cut ×0.2 after every 2nd bad check
    assert [h["update"] for h in history] == [2, 4, 6, 8, 10, 12, 14] and result["stopped_early"]
    assert [h["lr"] for h in history] == pytest.approx([5e-4] * 4 + [1e-4] * 2 + [2e-5])
    assert (result["best_update"], result["best_epoch"], result["macro_average"]) == (4, 1, 0.6)


def test_train_glue_updates_only_the_sampled_tasks_head():
    model = _glue_model(ClassicalHeads(6, (1, 1, 3)), d=6)
    before = [h.weight.detach().clone() for h in model.head.heads]
    tokens = {"stsb": _glue_tokens()["stsb"]}  # one task of the three the head has
    result = train_glue(model, tokens, GLUE_SPECS, {"batch_size": 16, "max_epochs": 1, "verbose": False})
    changed = [not torch.equal(b, h.weight) for b, h in zip(before, model.head.heads)]
    assert changed == [False, True, False]
    assert result["history"][-1]["update"] == 3  # ceil(40 / 16): a final check after a short run


def test_train_glue_restores_best_checkpoint():
    model = _glue_model(ClassicalHeads(6, (1, 1, 3)), d=6)
    result = train_glue(
        model, _glue_tokens(), GLUE_SPECS, {"batch_size": 8, "max_epochs": 2, "validate_every": 5, "seed": 2, "verbose": False}
    )
    from qmtl_utils.training.glue import evaluate_glue, macro_primary

    again = macro_primary(evaluate_glue(model, _glue_tokens(), {t: i for i, t in enumerate(GLUE_SPECS)}))
    assert again == pytest.approx(result["macro_average"])


# --------------------------------------------------------------------------- CheXpert (C.2)


def _chexpert_loaders(n: int = 96, seed: int = 0):
    """Images (n, 3, 2, 2) whose task-t class follows pixel t; 20 % blanks."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 2, 2, generator=g)
    flat = x.flatten(1)
    labels = torch.where(flat[:, :5] > 0.3, 2, torch.where(flat[:, :5] < -0.3, 1, 0))
    labels[torch.rand(n, 5, generator=g) < 0.2] = -100
    parts = torch.arange(n).split([n // 2, n // 4, n // 4])
    return [
        DataLoader(TensorDataset(x[p], labels[p]), batch_size=8, shuffle=i == 0, generator=torch.Generator().manual_seed(seed))
        for i, p in enumerate(parts)
    ]


def _chexpert_model() -> MultiTaskModel:
    torch.manual_seed(0)
    return MultiTaskModel(nn.Sequential(nn.Flatten(), nn.Linear(12, 6)), ClassicalHeads(6, (3,) * 5))


def test_train_chexpert_end_to_end_and_learns():
    result = train_chexpert(
        _chexpert_model(), *_chexpert_loaders(), {"lr": 3e-2, "max_epochs": 9, "validate_every_epochs": 2, "verbose": False}
    )
    assert set(result) == {
        "test",
        "test_mean",
        "val_mean_f1",
        "best_epoch",
        "n_epochs",
        "stopped_early",
        "class_weights",
        "history",
        "wall_time_s",
        "settings",
    }
    assert len(result["test"]) == 5 and all(set(m) == {"accuracy", "precision", "recall", "f1"} for m in result["test"].values())
    checked = [h["epoch"] for h in result["history"] if "val_mean_f1" in h]
    assert checked == [2, 4, 6, 8, 9] and result["best_epoch"] in checked
    assert np.array(result["class_weights"]).shape == (5, 3)
    losses = [h["train_loss"] for h in result["history"]]
    assert losses[-1] < losses[0]
    assert result["test_mean"]["accuracy"] > 0.75  # chance ≈ 0.5 on the negative/positive samples


def test_train_chexpert_patience_counts_validation_checks():
    # lr 0: nothing improves after the first check (epoch 2); patience 2 checks = epochs 4 and 6
    result = train_chexpert(
        _chexpert_model(),
        *_chexpert_loaders(),
        {"lr": 0.0, "max_epochs": 30, "validate_every_epochs": 2, "early_stopping_patience": 2, "verbose": False},
    )
    assert result["stopped_early"] and result["n_epochs"] == 6 and result["best_epoch"] == 2


# --------------------------------------------------------------------------- Extended MUStARD (C.3)


def _mustard_data(n: int = 120, dim: int = 10):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    thirds, ninths = [-0.4, 0.4], np.linspace(-1.2, 1.2, 8)
    labels = np.stack(
        [
            x[:, 0] > 0,
            np.digitize(x[:, 1], thirds),
            np.digitize(x[:, 2], thirds),
            np.digitize(x[:, 3], ninths),
            np.digitize(x[:, 4], ninths),
        ],
        axis=1,
    ).astype(np.int64)
    return x, labels


def test_validation_split_partitions_and_stratifies():
    train_idx = np.arange(100, 200)
    strata = np.r_[np.zeros(70), np.ones(30)]
    train, val = validation_split(train_idx, 0.2, seed=0, strata=strata)
    assert len(val) == 20 and len(train) == 80
    assert np.array_equal(np.sort(np.r_[train, val]), train_idx)
    assert np.sum(strata[val - 100]) == 6  # 20 % of each stratum
    assert np.array_equal(val, validation_split(train_idx, 0.2, seed=0, strata=strata)[1])
    assert not np.array_equal(val, validation_split(train_idx, 0.2, seed=1, strata=strata)[1])


def test_train_mustard_end_to_end_and_learns():
    x, labels = _mustard_data()
    train_idx, val_idx = validation_split(np.arange(90), 0.2, seed=0, strata=labels[:90, 0])
    torch.manual_seed(0)
    model = MultiTaskModel(MustardProjection.for_head("classical", 10, d=6), ClassicalHeads(6, (1, 3, 3, 9, 9)))
    result = train_mustard(
        model,
        x,
        labels,
        train_idx,
        val_idx,
        np.arange(90, 120),
        {"task_weight": 1.0, "lr": 1e-2, "max_epochs": 15, "verbose": False},
    )
    assert set(result) == {"test", "validation", "val_sarcasm_f1", "best_epoch", "n_epochs", "history", "wall_time_s", "settings"}
    assert result["n_epochs"] == 15
    assert list(result["test"]) == ["sarcasm", "sentiment_implicit", "sentiment_explicit", "emotion_implicit", "emotion_explicit"]
    assert len(result["history"]) == 15
    best = max(result["history"], key=lambda h: h["val_sarcasm_f1"])
    assert (result["best_epoch"], result["val_sarcasm_f1"]) == (best["epoch"], best["val_sarcasm_f1"])
    assert result["validation"]["sarcasm"]["f1"] == result["val_sarcasm_f1"]
    assert result["history"][-1]["train_loss"] < result["history"][0]["train_loss"]
    assert result["test"]["sarcasm"]["accuracy"] > 0.75 and result["test"]["sentiment_implicit"]["accuracy"] > 0.5


def test_train_mustard_qmtl_head_with_per_task_weights():
    x, labels = _mustard_data(n=40, dim=6)
    config = QMTLConfig(n_qubits=13, n_layers=1, task_outputs=(1, 3, 3, 9, 9), task_qubits=(1, 2, 2, 4, 4))
    torch.manual_seed(0)
    model = MultiTaskModel(MustardProjection.for_head("qmtl", 6, d=13), QMTLHead(config))
    result = train_mustard(
        model,
        x,
        labels,
        np.arange(24),
        np.arange(24, 32),
        np.arange(32, 40),
        {"task_weight": [0.2] * 5, "max_epochs": 2, "verbose": False},
    )
    assert len(result["history"]) == 2 and result["best_epoch"] in (1, 2)
    with pytest.raises(ValueError, match="task weights"):
        train_mustard(
            model,
            x,
            labels,
            np.arange(24),
            np.arange(24, 32),
            np.arange(32, 40),
            {"task_weight": [0.2] * 4, "max_epochs": 1, "verbose": False},
        )
