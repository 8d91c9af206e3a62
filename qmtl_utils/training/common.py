"""Pieces shared by the three training protocols of Appendix C."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping, TypeVar

import numpy as np
import torch
from torch import nn

S = TypeVar("S")


def coerce_settings(cls: type[S], settings: S | Mapping[str, Any] | None) -> S:
    """``settings`` as the dataclass ``cls``: an instance, a mapping of its fields, or None (defaults)."""
    if settings is None:
        return cls()
    if isinstance(settings, cls):
        return settings
    return cls(**settings)


def settings_dict(settings) -> dict[str, Any]:
    """A settings dataclass as a plain dict, for the results."""
    return dataclasses.asdict(settings)


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter (the trainers move batches there)."""
    return next(model.parameters()).device


class EarlyStopping:
    """Stop after ``patience`` consecutive checks without improvement.

    ``step(value)`` returns True when ``value`` beats the best so far by more than ``min_delta``
    (larger is better for ``mode="max"``, smaller for ``"min"``); ``should_stop`` becomes True on the
    ``patience``-th consecutive non-improving check.
    """

    def __init__(self, patience: int, mode: str = "max", min_delta: float = 0.0):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.patience, self.mode, self.min_delta = patience, mode, min_delta
        self.best: float | None = None
        self.num_bad = 0

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "max":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def step(self, value: float) -> bool:
        improved = self._better(value)
        if improved:
            self.best, self.num_bad = value, 0
        else:
            self.num_bad += 1
        return improved

    @property
    def should_stop(self) -> bool:
        return self.num_bad >= self.patience


class BestCheckpoint:
    """A copy of the weights with the best score so far (``mode="max"``: larger is better; ties keep the first)."""

    def __init__(self, mode: str = "max"):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.mode = mode
        self.score: float | None = None
        self.epoch: int | None = None
        self.state: dict[str, torch.Tensor] | None = None

    def update(self, score: float, model: nn.Module, epoch: int) -> bool:
        """Keep ``model``'s weights if ``score`` is the best so far; returns whether it was."""
        better = self.score is None or (score > self.score if self.mode == "max" else score < self.score)
        if better:
            self.score, self.epoch = score, epoch
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return better

    def restore(self, model: nn.Module) -> None:
        """Load the best weights back into ``model``."""
        if self.state is None:
            raise RuntimeError("no checkpoint saved yet")
        model.load_state_dict(self.state)


class MultiTaskModel(nn.Module):
    """Backbone + multi-task head: ``forward(*inputs) = head(backbone(*inputs))``, one logit tensor per task."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        return self.head(self.backbone(*inputs))


def plateau_scheduler(
    optimizer: torch.optim.Optimizer, patience: int, factor: float = 0.2, min_lr: float = 1e-7
) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """ReduceLROnPlateau on a metric to maximise (C.1: factor 0.2, min LR 1e-7).

    The LR is multiplied by ``factor`` once more than ``patience`` consecutive checks fail to improve
    (torch's relative threshold 1e-4), and never goes below ``min_lr``.
    """
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=factor, patience=patience, min_lr=min_lr)


def clipped_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor, max_norm: float) -> None:
    """Backpropagate ``loss``, clip the gradient norm to ``max_norm`` and take one optimizer step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


class Progress:
    """One flushed line per epoch or validation: ``[name] epoch 3/30 | f1 0.612 | ... | 12s, ETA 1m40s``.

    ``total`` is in the unit that :meth:`log`'s ``done`` counts (epochs or updates).
    """

    def __init__(self, name: str, total: int, enabled: bool = True):
        self.name, self.total, self.enabled = name, total, enabled
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def log(self, done: int, position: str, values: Mapping[str, float]) -> str:
        """Print (when enabled) and return the line for ``done`` of ``total`` units; ``position`` names it."""
        elapsed = self.elapsed
        eta = elapsed / done * (self.total - done) if done else float("nan")
        shown = " ".join(f"{k} {v:.4f}" for k, v in values.items())
        line = f"[{self.name}] {position} | {shown} | {_duration(elapsed)}, ETA {_duration(eta)}"
        if self.enabled:
            print(line, flush=True)
        return line


def _duration(seconds: float) -> str:
    if seconds != seconds:  # NaN: nothing done yet
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def parallel_epoch(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, optimizer, loss_fn, batch_size: int, generator: torch.Generator
) -> float:
    """One epoch in which every batch trains every task (Appendix C.3; the task-scaling study):
    shuffled with ``generator``, ``loss_fn(outputs, targets)`` per batch, one optimizer step each.
    Returns the mean batch loss."""
    device, losses = model_device(model), []
    for rows in torch.randperm(len(x), generator=generator).split(batch_size):
        loss = loss_fn(model(x[rows].to(device)), y[rows].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return float(np.mean(losses))
