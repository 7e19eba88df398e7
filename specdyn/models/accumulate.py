"""Gradient accumulation behind one loss tensor, for batches too large for one pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


class AccumulatedLoss(torch.autograd.Function):
    """Gradient accumulation behind one loss tensor.

    forward computes ``loss_fn(part)`` for each part and, at once, its gradients with
    respect to ``params``, keeping only their running mean; backward hands that mean back
    (times the incoming gradient). ``loss.backward()`` on the result then fills ``.grad``
    exactly as a single pass over the whole batch would, with the activations of one part
    alive at a time.
    """

    @staticmethod
    def forward(
        ctx: Any, loss_fn: Callable[[Any], Tensor], parts: list[Any], *params: Tensor
    ) -> Tensor:
        total = torch.zeros((), device=params[0].device)
        grads = [torch.zeros_like(p) for p in params]
        for part in parts:
            with torch.enable_grad():
                loss = loss_fn(part) / len(parts)
                part_grads = torch.autograd.grad(loss, params, allow_unused=True)
            total += loss.detach()
            for g, pg in zip(grads, part_grads, strict=True):
                if pg is not None:
                    g += pg
        ctx.grads = grads
        return total

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        return (None, None, *(grad_output * g for g in ctx.grads))
