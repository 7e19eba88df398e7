"""Helpers that more than one task uses: classification loss and evaluation."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specdyn.data.batches import batch_indices
from specdyn.data.images import CifarSplits
from specdyn.tasks.base import Evaluation


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
        wrong += int((logits.argmax(-1) != yb).sum().item())
    return {"loss": loss / len(x), "error": wrong / len(x)}


def classifier_functions(
    splits: CifarSplits, batch_size: int, order_seed: int, device: torch.device
) -> tuple[Callable[[nn.Module, int], Tensor], Callable[[nn.Module], Evaluation]]:
    """``loss(model, step)``: cross-entropy of the step's minibatch (a pure function of the
    step and the order seed); ``evaluate(model)``: loss and error of every split, in eval
    mode."""
    mean, std = splits.mean.to(device)[:, None, None], splits.std.to(device)[:, None, None]
    x, y = (t.to(device) for t in splits.train)
    evaluated = {k: (a.to(device), b.to(device)) for k, (a, b) in splits.evaluated.items()}

    def prepare(images: Tensor) -> Tensor:
        return (images.float() / 255 - mean) / std  # (B, 3, 32, 32), normalised

    def loss(model: nn.Module, step: int) -> Tensor:
        idx = batch_indices(len(x), batch_size, step, order_seed).to(device)
        return F.cross_entropy(model(prepare(x[idx])), y[idx])

    @torch.no_grad()
    def evaluate(model: nn.Module) -> Evaluation:
        was_training = model.training
        model.eval()  # BatchNorm uses its running statistics
        out = {
            k: classification_eval(model, a, b, prepare=prepare) for k, (a, b) in evaluated.items()
        }
        model.train(was_training)
        return out

    return loss, evaluate
