"""The random-label MLP: 3072 -> 256 -> 256 -> 256 -> 10 with ReLU (paper Section 6, A.7).

Inputs are flattened, so (B, 3, 32, 32) CIFAR images and (B, 3072) vectors both work. Linear
layers keep their biases; PyTorch's default initialisation, as the authors used.

Matrix names: ``layers.0`` ... ``layers.{n-1}``, each (out, in). The paper's Figure 8 reads
the middle of the network: SV plot ``layers.1``, alignment ``layers.1->layers.2``.
"""

from __future__ import annotations

from itertools import pairwise

import torch.nn.functional as F
from torch import Tensor, nn

from specdyn.models.configs import MLPConfig
from specdyn.spectral.pairs import Pair


class MLP(nn.Module):
    """(B, ...) inputs flattened to (B, widths[0]) -> (B, widths[-1]) logits."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        self.config = cfg
        w = cfg.widths
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(w))

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)  # (B, widths[0])
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))  # (B, width_i)
        return self.layers[-1](x)  # (B, widths[-1])


def alignment_pairs(cfg: MLPConfig) -> list[Pair]:
    """Each Linear -> the next: len(widths) - 2 pairs."""
    names = [f"layers.{i}" for i in range(len(cfg.widths) - 1)]
    return [Pair(a, b) for a, b in pairwise(names)]
