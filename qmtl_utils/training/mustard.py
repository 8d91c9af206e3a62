"""Parallel multi-task training on Extended MUStARD (Appendix C.3).

Every batch trains all five tasks: the loss is ``sum_t w_t · L_t`` with BCEWithLogits for sarcasm
and CrossEntropy for the 3- and 9-class tasks, fixed task weights ``w_t`` (0.2 for QMTL, 1.0 for the
classical and HQNN heads; the caller passes them), Adam (lr 1e-3), batch 16, 50 epochs. After each
epoch the model is evaluated on the validation rows; the checkpoint with the best validation
sarcasm F1 gives the test metrics (Acc, P, R, F1 per task, Table 3).

Choices the paper leaves open:

* The "validation set" is carved out of each fold's training rows by :func:`validation_split`,
  20 % of them by default, stratified by sarcasm when ``strata`` is given.
* No gradient clipping and no early stopping (C.3 names neither): all ``max_epochs`` run.
* Backpropagation is exact statevector backprop instead of parameter shift (same gradient).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from qmtl_utils.runtime.seeding import seed_everything
from qmtl_utils.spec import BENCHMARKS
from qmtl_utils.training.common import (
    BestCheckpoint,
    Progress,
    coerce_settings,
    model_device,
    parallel_epoch,
    settings_dict,
    trainable_parameters,
)
from qmtl_utils.training.losses import multitask_loss
from qmtl_utils.training.metrics import multiclass_metrics

SARCASM = 0  # column of the checkpointing task


@dataclass
class MustardSettings:
    """Appendix C.3 hyperparameters; ``task_weight`` is one weight for all tasks or one per task."""

    task_weight: float | Sequence[float] = 1.0
    lr: float = 1e-3
    batch_size: int = 16
    max_epochs: int = 50
    seed: int = 0
    verbose: bool = True
    tasks: tuple = field(default_factory=lambda: BENCHMARKS["mustard"].tasks)

    def weights(self) -> list[float]:
        if isinstance(self.task_weight, (int, float)):
            return [float(self.task_weight)] * len(self.tasks)
        if len(self.task_weight) != len(self.tasks):
            raise ValueError(f"{len(self.task_weight)} task weights for {len(self.tasks)} tasks")
        return [float(w) for w in self.task_weight]


def validation_split(train_idx, fraction: float = 0.2, seed: int = 0, strata=None) -> tuple[np.ndarray, np.ndarray]:
    """Split a fold's training indices into (train, validation), ``fraction`` of them validating.

    ``strata`` (optional, aligned with ``train_idx``, e.g. the sarcasm labels) keeps each stratum's
    share in both parts. Seeded; both parts are returned sorted.
    """
    train_idx = np.asarray(train_idx)
    rng = np.random.default_rng(seed)
    groups = (
        [np.arange(len(train_idx))] if strata is None else [np.flatnonzero(np.asarray(strata) == s) for s in np.unique(strata)]
    )
    val = np.concatenate([rng.permutation(g)[: round(fraction * len(g))] for g in groups])
    is_val = np.zeros(len(train_idx), dtype=bool)
    is_val[val] = True
    return np.sort(train_idx[~is_val]), np.sort(train_idx[is_val])


def _loss(outputs: list[torch.Tensor], labels: torch.Tensor, cfg: MustardSettings) -> torch.Tensor:
    return multitask_loss([spec.kind for spec in cfg.tasks], outputs, labels, cfg.weights())


@torch.no_grad()
def evaluate_mustard(
    model: nn.Module, features: torch.Tensor, labels: torch.Tensor, cfg: MustardSettings
) -> dict[str, dict[str, float]]:
    """``{task: {accuracy, precision, recall, f1}}`` (:func:`~qmtl_utils.training.metrics.multiclass_metrics`)."""
    was_training = model.training
    model.eval()
    outputs = model(features.to(model_device(model)))
    model.train(was_training)
    return {
        spec.name: multiclass_metrics(out.float().cpu().numpy(), labels[:, t].numpy(), max(spec.n_outputs, 2))
        for t, (spec, out) in enumerate(zip(cfg.tasks, outputs))
    }


def train_mustard(
    model: nn.Module, features, labels, train_idx, val_idx, test_idx, settings: MustardSettings | Mapping | None = None
) -> dict:
    """Train ``model`` (features → five logit tensors) with the protocol of Appendix C.3.

    Taught in: 03_training, "The training loop, written out"

    ``features`` ``(N, D)`` and ``labels`` ``(N, 5)`` (class indices, tasks in
    :data:`~qmtl_utils.data.mustard.TASKS` order) are arrays or tensors; the index arrays select rows.
    Returns ``{"test": {task: {accuracy, precision, recall, f1}}, "validation" (same, at the best
    epoch), "val_sarcasm_f1", "best_epoch", "n_epochs", "history", "wall_time_s", "settings"}``; ``history`` has
    one dict per epoch (``epoch, train_loss, val_sarcasm_f1``).
    """
    cfg = coerce_settings(MustardSettings, settings)
    seed_everything(cfg.seed)
    x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    part = {
        name: torch.as_tensor(np.asarray(idx), dtype=torch.long)
        for name, idx in (("train", train_idx), ("val", val_idx), ("test", test_idx))
    }
    optimizer = torch.optim.Adam(trainable_parameters(model), lr=cfg.lr)
    best, progress = BestCheckpoint(), Progress("mustard", cfg.max_epochs, cfg.verbose)
    generator = torch.Generator().manual_seed(cfg.seed)
    history, best_val = [], {}
    model.train()
    for epoch in range(1, cfg.max_epochs + 1):
        loss = parallel_epoch(
            model,
            x[part["train"]],
            y[part["train"]],
            optimizer,
            lambda out, target: _loss(out, target, cfg),
            cfg.batch_size,
            generator,
        )
        val = evaluate_mustard(model, x[part["val"]], y[part["val"]], cfg)
        f1 = val[cfg.tasks[SARCASM].name]["f1"]
        history.append({"epoch": epoch, "train_loss": loss, "val_sarcasm_f1": f1})
        if best.update(f1, model, epoch):
            best_val = val
        progress.log(epoch, f"epoch {epoch}/{cfg.max_epochs}", {"train_loss": loss, "val_sarcasm_f1": f1})
    best.restore(model)
    test = evaluate_mustard(model, x[part["test"]], y[part["test"]], cfg)
    return {
        "test": test,
        "validation": best_val,
        "val_sarcasm_f1": best.score,
        "best_epoch": best.epoch,
        "n_epochs": len(history),
        "history": history,
        "wall_time_s": progress.elapsed,
        "settings": settings_dict(cfg),
    }
