"""Extended MUStARD backbone (Appendix B.3): a shallow dense projection of the authors'
pre-extracted multimodal features to the heads' input width d = M = Q·L = 13·3 = 39."""

from __future__ import annotations

import torch
from torch import nn

from qmtl_utils.spec import HEAD_VARIANTS


class MustardProjection(nn.Module):
    """Features ``(batch, in_features)`` → ``(batch, d)``.

    * ``hidden=None``: one ``Linear(in_features, d)``, the "shallow dense network" that projects
      the features to M=39 in front of the QMTL head and of the HQNN head (which then applies its
      own Linear(39→3), :class:`~qmtl_utils.models.heads.HQNNHead`). The paper does not give its depth;
      one layer is our reading.
    * ``hidden=h``: ``Linear(in_features, h) → ReLU → Linear(h, d)``, the classical head's "two
      linear layers with M=39 output dimensions and ReLU activation on the first layer"; the paper
      uses ``h = 39`` (:meth:`for_head`).

    No activation follows the last layer: the QMTL head takes the values as RX angles.
    """

    def __init__(self, in_features: int, d: int = 39, hidden: int | None = None):
        super().__init__()
        self.in_features, self.d, self.hidden = in_features, d, hidden
        if hidden is None:
            self.net = nn.Linear(in_features, d)
        else:
            self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, d))

    @classmethod
    def for_head(cls, variant: str, in_features: int, d: int = 39) -> "MustardProjection":
        """The paper's projection for a head variant (``classical``, ``hqnn4``, ``hqnnQ``, ``qmtl``)."""
        if variant not in HEAD_VARIANTS:
            raise ValueError(f"unknown head variant {variant!r}; use one of {HEAD_VARIANTS}")
        return cls(in_features, d, hidden=d if variant == "classical" else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"MustardProjection expects (batch, {self.in_features}) features, got {tuple(x.shape)}")
        return self.net(x)
