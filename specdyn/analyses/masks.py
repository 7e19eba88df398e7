"""Lottery-ticket masks (Section 7.2, Appendix A.8): pure functions of weight tensors.

A mask is ``name -> bool tensor`` of the weight's shape; True keeps the entry.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from specdyn.errors import ConfigError

Masks = dict[str, Tensor]


def check_density(density: float) -> None:
    if not 0.0 < density <= 1.0:  # also refuses NaN
        raise ConfigError(f"density must lie in (0, 1], got {density}")


def magnitude_masks(weights: Mapping[str, Tensor], density: float) -> Masks:
    """One global threshold: keep the round(density * N) largest |w| over all ``weights``.

    N is the total number of entries. Ties at the threshold are broken by position, so
    exactly that many entries survive.
    """
    check_density(density)
    flat = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    keep = max(1, round(density * flat.numel()))
    chosen = torch.zeros(flat.numel(), dtype=torch.bool)
    chosen[torch.topk(flat.float().cpu(), keep, sorted=False).indices] = True
    out, start = {}, 0
    for name, w in weights.items():
        out[name] = chosen[start : start + w.numel()].reshape(w.shape).to(w.device)
        start += w.numel()
    return out


def random_masks(like: Mapping[str, Tensor], generator: torch.Generator) -> Masks:
    """Masks with exactly the per-layer number of kept entries of ``like``, at random places."""
    out = {}
    for name, mask in like.items():
        n, keep = mask.numel(), int(mask.sum())
        chosen = torch.zeros(n, dtype=torch.bool)
        chosen[torch.randperm(n, generator=generator)[:keep]] = True
        out[name] = chosen.reshape(mask.shape).to(mask.device)
    return out


def densities(masks: Mapping[str, Tensor]) -> dict[str, float]:
    """name -> fraction of kept entries."""
    return {name: float(m.float().mean()) for name, m in masks.items()}


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Mapping[str, Tensor]) -> None:
    """Zero the masked entries of the parameters named (state-dict keys) in ``masks``."""
    params = dict(model.named_parameters())
    for key, mask in masks.items():
        params[key].mul_(mask.to(params[key].device, params[key].dtype))


def mask_gradients(model: nn.Module, masks: Mapping[str, Tensor]) -> None:
    """Zero the masked entries of the gradients (call between backward and the step)."""
    params = dict(model.named_parameters())
    for key, mask in masks.items():
        grad = params[key].grad
        if grad is not None:
            grad.mul_(mask.to(grad.device, grad.dtype))
