"""Training losses: CheXpert's class-weighted, masked focal loss (Appendix C.2, Eqs. (23)-(24)) and
the per-task losses of GLUE and Extended MUStARD (Appendices C.1, C.3).

Reading choices the paper leaves open, made once here:

* **N in Eq. (23)** is the number of *labelled* training samples of task t (blanks excluded), not
  the size of the whole split. The two readings differ by one constant factor per task, and the
  focal loss below normalises by the summed weights, so that factor cancels: both readings give
  the same loss and gradients.
* **Normalisation of Eq. (24)**: weighted mean over the labelled samples,
  ``sum_i w_{y_i} FL_i / sum_i w_{y_i}``, the convention of ``torch.nn.CrossEntropyLoss(weight=)``.
  With gamma=0 and alpha=1 it equals that cross-entropy exactly.
* **Tasks**: the multi-task loss is the *sum* over tasks (Eq. (1) with lambda_t = 1); a task without
  a labelled sample in the batch adds 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE_INDEX = -100  # blank label (Appendix A.2)


LOSS_NORMALISATIONS = ("task", "entries")  # an open choice of Eqs. (23)-(24); "task" is ours


def inverse_frequency_weights(
    labels, n_classes: int = 3, ignore_index: int = IGNORE_INDEX, normalisation: str = "task"
) -> Tensor:
    """Eq. (23) per task: ``w_{c,t} = N_t / (K · n_{c,t})`` from an ``(N, T)`` label matrix.

    Taught in: 03_training, "CheXpert's losses: Eqs. (23)-(25)"

    ``N_t`` counts the labelled samples of task t (entries equal to ``ignore_index`` are blanks);
    with ``normalisation="entries"`` it is Eq. (23)'s literal ``N``, every sample of the split
    (which only matters for the loss that does not divide by the weights, see
    :func:`masked_multitask_focal_loss`).
    A class that never occurs in a task gets weight 0: it is never a training target, and where
    it does occur elsewhere (e.g. in validation) it then adds nothing to the loss. Returns a float32 tensor ``(T, n_classes)``.
    """
    _check_normalisation(normalisation)
    labels = torch.as_tensor(labels).long().cpu()
    if labels.ndim != 2:
        raise ValueError(f"labels must be (N, T), got shape {tuple(labels.shape)}")
    weights = torch.zeros(labels.shape[1], n_classes)
    for t, column in enumerate(labels.T):
        column = column[column != ignore_index]
        if ((column < 0) | (column >= n_classes)).any():
            raise ValueError(f"task {t} has labels outside 0..{n_classes - 1} and {ignore_index}")
        counts = torch.bincount(column, minlength=n_classes).float()
        present = counts > 0
        n = len(column) if normalisation == "task" else labels.shape[0]
        weights[t, present] = n / (n_classes * counts[present])
    return weights


class FocalLoss(nn.Module):
    """Eq. (24) with per-class weights inside the cross-entropy and masked blanks.

    Taught in: 03_training, "CheXpert's losses: Eqs. (23)-(25)"

    Per labelled sample ``FL_i = alpha · (1 - p_i)^gamma · w_{y_i} · (-log p_i)`` with ``p_i`` the
    softmax probability of the true class; the loss is the weighted mean
    ``sum_i FL_i / sum_i w_{y_i}`` (``w = 1`` without ``class_weights``), exactly
    ``F.cross_entropy(logits, y, weight=w, ignore_index=...)`` at gamma=0, alpha=1. A batch with no
    labelled sample gives 0 (still attached to the graph), never NaN.
    """

    def __init__(
        self, gamma: float = 2.0, alpha: float = 1.0, class_weights: Tensor | None = None, ignore_index: int = IGNORE_INDEX
    ):
        super().__init__()
        self.gamma, self.alpha, self.ignore_index = gamma, alpha, ignore_index
        self.register_buffer(
            "class_weights", None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        )

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """``logits (B, K)``, ``target (B,)`` class indices or ``ignore_index`` → scalar."""
        mask = target != self.ignore_index
        logits, target = logits[mask], target[mask].long()
        log_p = F.log_softmax(logits, dim=-1).gather(1, target[:, None]).squeeze(1)
        w = torch.ones_like(log_p) if self.class_weights is None else self.class_weights.to(log_p)[target]
        focal = self.alpha * (1 - log_p.exp()) ** self.gamma * w * -log_p
        # empty batch (or only zero-weight classes): 0 / tiny = 0 instead of 0 / 0
        return focal.sum() / w.sum().clamp_min(torch.finfo(log_p.dtype).tiny)


def _check_normalisation(normalisation: str) -> None:
    if normalisation not in LOSS_NORMALISATIONS:
        raise ValueError(f"unknown loss normalisation {normalisation!r}; use one of {LOSS_NORMALISATIONS}")


def masked_multitask_focal_loss(
    logits_per_task: list[Tensor],
    labels: Tensor,
    class_weights: Tensor | None = None,
    gamma: float = 2.0,
    alpha: float = 1.0,
    ignore_index: int = IGNORE_INDEX,
    normalisation: str = "task",
) -> Tensor:
    """Sum over tasks of the masked focal loss (Eq. (24)) of each task.

    Taught in: 03_training, "CheXpert's losses: Eqs. (23)-(25)"

    ``logits_per_task[t]`` is ``(B, K)``, ``labels`` is ``(B, T)`` with blanks = ``ignore_index``,
    ``class_weights`` is ``(T, K)`` (Eq. (23)) or None. Tasks unlabelled in the batch add 0.

    ``normalisation`` (the paper leaves it open): ``"task"`` (default) sums each task's weighted
    mean :class:`FocalLoss`, so Eq. (23)'s ``N`` cancels and every task counts alike; ``"entries"``
    is the mean of ``w · FL`` over all labelled (sample, task) entries of the batch, times ``T`` (so
    its scale matches), with the literal ``N`` of Eq. (23): a task counts in proportion to its
    labelled entries times ``N / N_t``, which up-weights the sparsely labelled ones.
    """
    _check_normalisation(normalisation)
    if len(logits_per_task) != labels.shape[1]:
        raise ValueError(f"{len(logits_per_task)} task logits for {labels.shape[1]} label columns")
    if normalisation == "entries":
        return _entry_mean_focal_loss(logits_per_task, labels, class_weights, gamma, alpha, ignore_index)
    total = 0.0
    for t, logits in enumerate(logits_per_task):
        weights = None if class_weights is None else class_weights[t]
        total = total + FocalLoss(gamma, alpha, weights, ignore_index)(logits, labels[:, t])
    return total


def _entry_mean_focal_loss(logits_per_task, labels, class_weights, gamma, alpha, ignore_index) -> Tensor:
    total, count = 0.0, 0
    for t, logits in enumerate(logits_per_task):
        target = labels[:, t]
        mask = target != ignore_index
        log_p = F.log_softmax(logits[mask], dim=-1).gather(1, target[mask].long()[:, None]).squeeze(1)
        w = torch.ones_like(log_p) if class_weights is None else class_weights[t].to(log_p)[target[mask].long()]
        total = total + (alpha * (1 - log_p.exp()) ** gamma * w * -log_p).sum()
        count += int(mask.sum())
    return total * len(logits_per_task) / max(count, 1)


def task_loss(kind: str, logits: Tensor, targets: Tensor) -> Tensor:
    """The per-task loss of GLUE and MUStARD (Appendices C.1, C.3) by task kind.

    ``binary``: BCEWithLogits on the single logit (``(B,)`` or ``(B, 1)``); ``multiclass``:
    cross-entropy on ``(B, K)`` logits; ``regression``: MSE on the single output.
    """
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(logits.reshape(-1), targets.reshape(-1).to(logits.dtype))
    if kind == "multiclass":
        return F.cross_entropy(logits, targets.long())
    if kind == "regression":
        return F.mse_loss(logits.reshape(-1), targets.reshape(-1).to(logits.dtype))
    raise ValueError(f"unknown task kind {kind!r}; use 'binary', 'multiclass' or 'regression'")


def multitask_loss(
    kinds: Sequence[str], outputs: Sequence[Tensor], targets: Tensor, weights: Sequence[float] | None = None
) -> Tensor:
    """Eq. (1): ``Σ_t w_t · L_t`` over tasks trained together on every batch (MUStARD, Appendix C.3;
    the task-scaling study), ``L_t`` = :func:`task_loss` of task ``t``'s kind on column ``t`` of
    ``targets``; ``weights`` default to 1.

    Taught in: 03_training, "The multi-task objective, Eq. (1)"
    """
    weights = [1.0] * len(kinds) if weights is None else weights
    return sum(w * task_loss(kind, out, targets[:, t]) for t, (w, kind, out) in enumerate(zip(weights, kinds, outputs)))
