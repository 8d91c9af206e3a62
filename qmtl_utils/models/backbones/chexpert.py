"""The CheXpert backbone of Appendix B.2: a fine-tuned DenseNet121 projected to the shared features Z.

DenseNet121 features (ImageNet weights, C.2) → ReLU → AdaptiveAvgPool2d(1) → dropout → two hidden
layers, each Linear → BatchNorm1d → ReLU, the second of width ``d`` (M = Q·L = 30, Eq. (12)).
Every parameter is trainable (the paper fine-tunes the backbone).

ImageNet weights are used when they can be had without hanging: from torch.hub's checkpoint folder
if the file is there, downloaded (with a socket timeout) only when ``allow_download=True``.
Otherwise the network is randomly initialised, with a :class:`RandomInitWarning` and
``backbone.weights == "random"`` so results can say so.
"""

from __future__ import annotations

import pickle
import socket
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch import nn
from torchvision.models import DenseNet, DenseNet121_Weights, densenet121

IMAGENET_WEIGHTS = DenseNet121_Weights.IMAGENET1K_V1


class RandomInitWarning(UserWarning):
    """The DenseNet121 ImageNet weights could not be had; the backbone starts from random weights."""


def imagenet_weights_file() -> Path:
    """Where torch.hub keeps the DenseNet121 ImageNet checkpoint (``$TORCH_HOME/hub/checkpoints/...``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / IMAGENET_WEIGHTS.url.rsplit("/", 1)[-1]


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """torch.hub's download has no timeout of its own: bound every socket operation meanwhile."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def load_densenet121(pretrained: bool = True, allow_download: bool = False, timeout_s: float = 30.0) -> tuple[nn.Module, str]:
    """``(densenet121, "imagenet" | "random")``.

    With ``pretrained``, the ImageNet weights are loaded from :func:`imagenet_weights_file`, or
    downloaded there when ``allow_download`` (socket operations time out after ``timeout_s``).
    If that fails, or the file is absent and downloads are not allowed, a RandomInitWarning says
    so and the weights are random.
    """
    if not pretrained:
        return densenet121(weights=None), "random"
    target = imagenet_weights_file()
    if not target.is_file() and not allow_download:
        reason = f"{target} does not exist and allow_download=False"
    else:
        try:
            with _socket_timeout(timeout_s):
                return densenet121(weights=IMAGENET_WEIGHTS, progress=False), "imagenet"
        except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
            reason = f"loading {IMAGENET_WEIGHTS.url} failed ({type(exc).__name__}: {exc})"
    warnings.warn(
        f"DenseNet121 ImageNet weights unavailable: {reason}. The backbone is RANDOMLY initialised, "
        f"unlike the paper (Appendix C.2). To use them, put {IMAGENET_WEIGHTS.url} at {target} "
        "or pass allow_download=True on a machine with internet.",
        RandomInitWarning,
        stacklevel=2,
    )
    return densenet121(weights=None), "random"


def densenet_features(
    config: dict | None, pretrained: bool = True, allow_download: bool = False, timeout_s: float = 30.0
) -> tuple[nn.Module, int, str]:
    """``(features, width, weights)``: DenseNet121's feature extractor (``config=None``, the paper's,
    with :func:`load_densenet121`), or that of ``torchvision.models.DenseNet(**config)``, randomly
    initialised (no pretrained weights exist for other configurations)."""
    if config is None:
        net, weights = load_densenet121(pretrained, allow_download, timeout_s)
    else:
        net, weights = DenseNet(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}), "random"
    return net.features, net.classifier.in_features, weights


def _hidden_layer(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU())


class ChexpertBackbone(nn.Module):
    """Images ``(batch, 3, S, S)`` → shared features ``(batch, d)`` (Appendix B.2).

    Args:
        d: output width M (30 = Q·L for the paper's heads).
        hidden: widths of the hidden layers before the last one, which has width ``d``; the default
            ``(256,)`` gives the paper's two hidden layers (the paper does not give the width).
        dropout: dropout after pooling (not given in the paper).
        pretrained, allow_download, timeout_s: see :func:`load_densenet121`.
        densenet: ``None`` for DenseNet121 (the paper); otherwise the keyword arguments of a smaller
            ``torchvision.models.DenseNet`` (the demo profile's), random weights.

    ``self.weights`` records ``"imagenet"`` or ``"random"``. The last layer ends in ReLU as the paper
    describes, so the features are non-negative.

    Taught in: 01_backbones, "CheXpert: DenseNet121 → pooling → two hidden layers → d = 30 (Appendix B.2)"
    """

    def __init__(
        self,
        d: int = 30,
        hidden: Sequence[int] = (256,),
        dropout: float = 0.2,
        pretrained: bool = True,
        allow_download: bool = False,
        timeout_s: float = 30.0,
        densenet: dict | None = None,
    ):
        super().__init__()
        self.features, width, self.weights = densenet_features(densenet, pretrained, allow_download, timeout_s)
        self.pool = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout))
        widths = (width, *hidden, d)
        self.project = nn.Sequential(*(_hidden_layer(a, b) for a, b in zip(widths[:-1], widths[1:])))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.project(self.pool(self.features(images)))
