"""Interpolating whole states and recomputing normalisation statistics (Appendix A.9).

After weights are interpolated (or pruned, or perturbed) the BatchNorm running statistics
no longer match them: :func:`recompute_norm_stats` resets them and re-estimates them by
cumulative averaging (momentum None) over training batches run in train mode. GroupNorm and
LayerNorm keep no statistics and need nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


def interpolate_states(
    a: Mapping[str, Tensor], b: Mapping[str, Tensor], alpha: float
) -> dict[str, Tensor]:
    """(1 - alpha) a + alpha b for every floating tensor; other tensors (step counters) from
    ``a``. Both states must have the same keys and shapes."""
    if a.keys() != b.keys():
        raise ValueError(f"states differ in keys: {sorted(set(a) ^ set(b))}")
    out = {}
    for key, x in a.items():
        y = b[key]
        if x.shape != y.shape:
            raise ValueError(f"'{key}' has shapes {tuple(x.shape)} and {tuple(y.shape)}")
        out[key] = torch.lerp(x, y.to(x.dtype), alpha) if x.is_floating_point() else x.clone()
    return out


def norm_layers(model: nn.Module) -> list[_BatchNorm]:
    """The modules that keep running statistics."""
    return [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recompute_norm_stats(
    model: nn.Module, run_batch: Callable[[nn.Module, int], object], batches: Iterable[int]
) -> bool:
    """Re-estimate BatchNorm statistics as the average over ``run_batch(model, i)`` for i in
    ``batches`` (the task's training batches, run in train mode). False when the model keeps
    no statistics (nothing is run). Leaves the model in eval mode, momenta as they were."""
    layers = norm_layers(model)
    if not layers:
        return False
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    model.train()
    try:
        for i in batches:
            run_batch(model, i)
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
        model.eval()
    return True
