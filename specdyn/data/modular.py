"""Modular arithmetic: every pair (a, b) with label (a + b) mod p (paper Section 3)."""

from __future__ import annotations

import torch
from torch import Tensor

from specdyn.config import seeding
from specdyn.errors import ConfigError

Split = tuple[Tensor, Tensor]  # tokens int64 (N, 3), labels int64 (N,)


def modular_addition(p: int, train_fraction: float, seed: int) -> dict[str, Split]:
    """Every (a, b) pair as tokens [a, b, p] with label (a + b) mod p, split by ``seed``."""
    if not 0.0 < train_fraction < 1.0:
        raise ConfigError(f"train_fraction must lie in (0, 1), got {train_fraction}")
    a, b = torch.cartesian_prod(torch.arange(p), torch.arange(p)).unbind(1)
    tokens = torch.stack([a, b, torch.full_like(a, p)], dim=1)  # (p^2, 3)
    labels = (a + b) % p
    order = seeding.permutation(p * p, seed)
    cut = int(round(train_fraction * p * p))
    train, val = order[:cut], order[cut:]
    return {"train": (tokens[train], labels[train]), "val": (tokens[val], labels[val])}
