"""Minibatches as a pure function of (order seed, step), so a resumed run sees the same batches.

Each epoch is a fresh permutation of the training set, drawn from
``seeding.batch_generator(order_seed, epoch)``; the last partial batch of an epoch is
dropped, so every step sees ``batch_size`` examples.
"""

from __future__ import annotations

import torch
from torch import Tensor

from specdyn.config import seeding
from specdyn.data.configs import steps_per_epoch


def batch_indices(n: int, batch_size: int, step: int, order_seed: int) -> Tensor:
    """Indices (batch_size,) of the examples of ``step``."""
    per_epoch = steps_per_epoch(n, batch_size)
    epoch, i = divmod(step, per_epoch)
    order = torch.randperm(n, generator=seeding.batch_generator(order_seed, epoch))
    return order[i * batch_size : (i + 1) * batch_size]
