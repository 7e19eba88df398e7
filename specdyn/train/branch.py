"""Where a branched run starts, and the two hooks it adds to the closed loop."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

Hook = Callable[[nn.Module], None]


def nothing(model: nn.Module) -> None:
    """The default hook: does nothing."""


@dataclass(frozen=True)
class BranchStart:
    """A run that starts from another run's full training state.

    state: the parent's state at the split step (model, optimizer, scheduler, rng, step),
    used when the branch folder holds no resume state of its own yet. change(model): applied
    once to the loaded weights before the first step (a mask, a perturbation); a resumed
    branch does not apply it again. after_backward(model): every step, between backward and
    the optimizer step (e.g. zero masked gradients). after_step(model): every step, after
    the optimizer step (e.g. zero masked weights).
    """

    state: Mapping[str, Any]
    change: Hook = nothing
    after_backward: Hook = nothing
    after_step: Hook = nothing
