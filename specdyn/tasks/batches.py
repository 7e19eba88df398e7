"""Minibatches as a pure function of (seed, step), so a resumed run sees the same batches.

Each epoch is a fresh permutation of the training set, seeded by (seed, epoch); the last
partial batch of an epoch is dropped, so every step sees ``batch_size`` examples.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def steps_per_epoch(n: int, batch_size: int) -> int:
    if n < batch_size:
        raise ValueError(f"{n} training examples cannot fill one batch of {batch_size}")
    return n // batch_size


def batch_indices(n: int, batch_size: int, step: int, seed: int) -> Tensor:
    """Indices (batch_size,) of the examples of ``step``."""
    per_epoch = steps_per_epoch(n, batch_size)
    epoch, i = divmod(step, per_epoch)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=generator)
    return order[i * batch_size : (i + 1) * batch_size]


@torch.no_grad()
def classification_eval(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    batch_size: int = 1024,
    prepare: Callable[[Tensor], Tensor] = lambda t: t,
) -> dict[str, float]:
    """Mean cross-entropy and error of ``model`` over (x, y), in batches."""
    device = next(model.parameters()).device
    loss, wrong = 0.0, 0
    for start in range(0, len(x), batch_size):
        xb = prepare(x[start : start + batch_size]).to(device)
        yb = y[start : start + batch_size].to(device)
        logits = model(xb)
        loss += nn.functional.cross_entropy(logits, yb, reduction="sum").item()
        wrong += (logits.argmax(-1) != yb).sum().item()
    return {"loss": loss / len(x), "error": wrong / len(x)}
