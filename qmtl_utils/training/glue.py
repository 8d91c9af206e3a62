"""Task-sampled multi-task training on GLUE (Appendix C.1).

Every update trains on one batch of one task: per epoch each task gets ``min(n_batches, 300)``
batches (batch 128), and each update draws a task with probability proportional to its remaining
capped batches (:class:`TaskSampler`). The sampled task's loss (BCEWithLogits, CrossEntropy or MSE
by task kind) is backpropagated with gradient clipping 1.0 and AdamW (lr 5e-4, weight decay 0.01).
Every ``validate_every`` updates (2000) the model is evaluated on every task's validation split;
the macro average of the primary metrics (Table 3) drives ReduceLROnPlateau (factor 0.2, min LR
1e-7), early stopping (patience 5 checks) and the best checkpoint, restored at the end.

Choices the paper leaves open:

* ``plateau_patience`` (default 2): the LR is cut after the 3rd consecutive non-improving check.
  Torch's default (10) could never act before early stopping ends training after 5.
* A final validation also runs after the last update when it is not a multiple of
  ``validate_every``, so short runs (the demo) are evaluated too.
* A task whose primary metric is undefined (e.g. Spearman of constant predictions) counts 0 in the
  macro average.
* Within an epoch each task's training rows are reshuffled and cut into batches; a capped task
  uses the first 300 batches of that shuffle, so different epochs see different rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Mapping

import numpy as np
import torch
from torch import nn

from qmtl_utils.models.backbones.glue import TokenFeatures
from qmtl_utils.runtime.seeding import seed_everything
from qmtl_utils.training.common import (
    BestCheckpoint,
    EarlyStopping,
    Progress,
    clipped_step,
    coerce_settings,
    model_device,
    plateau_scheduler,
    settings_dict,
    trainable_parameters,
)
from qmtl_utils.training.losses import task_loss
from qmtl_utils.training.metrics import glue_metrics


@dataclass
class GlueSettings:
    """Appendix C.1 hyperparameters (defaults are the paper's, ``plateau_patience`` is ours)."""

    lr: float = 5e-4
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    batch_size: int = 128
    batch_cap: int = 300
    max_epochs: int = 15
    validate_every: int = 2000
    early_stopping_patience: int = 5
    lr_factor: float = 0.2
    min_lr: float = 1e-7
    plateau_patience: int = 2
    eval_batch_size: int = 256
    seed: int = 0
    verbose: bool = True


class TaskSampler:
    """Order of the task-sampled updates of one epoch (Appendix C.1).

    Each task gets ``min(n_batches, cap)`` batches per epoch; each update draws a task with
    probability proportional to its remaining capped batches, without replacement. That sequential
    draw is exactly a uniformly random permutation of the multiset {task × capped count}, which is
    how it is computed. ``set_epoch(e)`` selects the epoch; iterating yields its task names, seeded
    by ``(seed, epoch)`` so every epoch's order is reproducible on its own.
    """

    def __init__(self, n_batches_per_task: Mapping[str, int], cap: int = 300, seed: int = 0):
        self.counts = {task: min(int(n), cap) for task, n in n_batches_per_task.items()}
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return sum(self.counts.values())

    def __iter__(self) -> Iterator[str]:
        rng = np.random.default_rng([self.seed, self.epoch])
        tasks = list(self.counts)
        pool = np.repeat(np.arange(len(tasks)), [self.counts[t] for t in tasks])
        return iter([tasks[i] for i in rng.permutation(pool)])


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Row indices of one shuffled pass over ``n`` rows, ``batch_size`` at a time (last one partial)."""
    return iter(torch.randperm(n, generator=generator).split(batch_size))


def _inputs(features: TokenFeatures, rows: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, ...]:
    """GlueBackbone's inputs (tokens_a, mask_a[, tokens_b, mask_b]) of ``rows``, on ``device``."""
    fields = (features.tokens_a, features.mask_a)
    if features.tokens_b is not None:
        fields += (features.tokens_b, features.mask_b)
    return tuple(f[rows].to(device) for f in fields)


@torch.no_grad()
def _predict(model: nn.Module, features: TokenFeatures, head_index: int, batch_size: int) -> torch.Tensor:
    """Task ``head_index``'s outputs on every row of ``features`` (eval mode), on the CPU."""
    device = model_device(model)
    rows = torch.arange(len(features.label))
    return torch.cat([model(*_inputs(features, b, device))[head_index].float().cpu() for b in rows.split(batch_size)])


def glue_outputs(
    model: nn.Module,
    tokens: Mapping[str, Mapping[str, TokenFeatures]],
    head_index: Mapping[str, int],
    split: str = "validation",
    batch_size: int = 256,
) -> dict[str, np.ndarray]:
    """``{task: outputs}`` of every task in ``tokens`` on ``split``, in eval mode (the mode is restored)."""
    was_training = model.training
    model.eval()
    out = {task: _predict(model, splits[split], head_index[task], batch_size).numpy() for task, splits in tokens.items()}
    model.train(was_training)
    return out


def evaluate_glue(
    model: nn.Module,
    tokens: Mapping[str, Mapping[str, TokenFeatures]],
    head_index: Mapping[str, int],
    split: str = "validation",
    batch_size: int = 256,
) -> dict[str, dict]:
    """Table 3's ``{task: {primary, secondary, names}}`` on ``split`` of every task in ``tokens``."""
    outputs = glue_outputs(model, tokens, head_index, split, batch_size)
    return {task: glue_metrics(task, outputs[task], splits[split].label.numpy()) for task, splits in tokens.items()}


def macro_primary(metrics: Mapping[str, Mapping]) -> float:
    """Macro average of the tasks' primary metrics (undefined ones count 0)."""
    return float(np.mean([np.nan_to_num(m["primary"], nan=0.0) for m in metrics.values()]))


def train_glue(
    model: nn.Module,
    tokens: Mapping[str, Mapping[str, TokenFeatures]],
    specs: Mapping[str, str],
    settings: GlueSettings | Mapping | None = None,
) -> dict:
    """Train ``model`` with the task-sampled protocol of Appendix C.1; the best checkpoint is restored.

    Args:
        model: ``model(tokens_a, mask_a[, tokens_b, mask_b])`` → one output tensor per task, in the
            order of ``specs`` (e.g. :class:`~.common.MultiTaskModel` of a GlueBackbone and a head).
        tokens: ``{task: {"train": TokenFeatures, "validation": TokenFeatures}}``; tasks may be a subset of ``specs``.
        specs: task name → kind (``binary``, ``multiclass``, ``regression``), in the head's output order.
        settings: :class:`GlueSettings` or a mapping of its fields.

    Returns ``{"metrics": {task: {primary, secondary, names}}, "macro_average", "validation_outputs"
    (the best checkpoint's outputs per task on the validation rows), "best_update",
    "best_epoch", "n_updates", "stopped_early", "history", "wall_time_s", "settings"}`` with the
    validation metrics of the best checkpoint; ``history`` has one dict per validation check
    (``update, epoch, lr, train_loss, macro_average, primary``).
    """
    cfg = coerce_settings(GlueSettings, settings)
    seed_everything(cfg.seed)
    head_index = {task: i for i, task in enumerate(specs)}
    train = {task: splits["train"] for task, splits in tokens.items()}
    sampler = TaskSampler({t: math.ceil(len(f.label) / cfg.batch_size) for t, f in train.items()}, cfg.batch_cap, cfg.seed)
    optimizer = torch.optim.AdamW(trainable_parameters(model), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = plateau_scheduler(optimizer, cfg.plateau_patience, cfg.lr_factor, cfg.min_lr)
    stopper, best = EarlyStopping(cfg.early_stopping_patience), BestCheckpoint()
    progress = Progress("glue", cfg.max_epochs * len(sampler), cfg.verbose)
    generator = torch.Generator().manual_seed(cfg.seed)
    device, history, losses, update = model_device(model), [], [], 0
    best_metrics: dict = {}

    def validate(epoch: int) -> None:
        nonlocal best_metrics
        metrics = evaluate_glue(model, tokens, head_index, batch_size=cfg.eval_batch_size)
        macro = macro_primary(metrics)
        history.append(
            {
                "update": update,
                "epoch": epoch,
                "lr": optimizer.param_groups[0]["lr"],
                "train_loss": float(np.mean(losses)) if losses else float("nan"),
                "macro_average": macro,
                "primary": {t: m["primary"] for t, m in metrics.items()},
            }
        )
        losses.clear()
        scheduler.step(macro)
        stopper.step(macro)
        if best.update(macro, model, epoch):
            best_metrics = {"metrics": metrics, "best_update": update}
        progress.log(update, f"epoch {epoch}/{cfg.max_epochs} update {update}", {"macro": macro, **history[-1]["primary"]})

    model.train()
    for epoch in range(1, cfg.max_epochs + 1):
        sampler.set_epoch(epoch)
        batches = {t: _batches(len(f.label), cfg.batch_size, generator) for t, f in train.items()}
        for task in sampler:
            rows = next(batches[task])
            outputs = model(*_inputs(train[task], rows, device))[head_index[task]]
            loss = task_loss(specs[task], outputs, train[task].label[rows].to(device))
            clipped_step(model, optimizer, loss, cfg.grad_clip)
            losses.append(loss.item())
            update += 1
            if update % cfg.validate_every == 0:
                validate(epoch)
                if stopper.should_stop:
                    break
        if stopper.should_stop:
            break
    if update % cfg.validate_every:
        validate(epoch)
    best.restore(model)
    outputs = glue_outputs(model, tokens, head_index, batch_size=cfg.eval_batch_size)
    return {
        "metrics": best_metrics["metrics"],
        "macro_average": best.score,
        "validation_outputs": outputs,
        "best_update": best_metrics["best_update"],
        "best_epoch": best.epoch,
        "n_updates": update,
        "stopped_early": stopper.should_stop,
        "history": history,
        "wall_time_s": progress.elapsed,
        "settings": settings_dict(cfg),
    }
