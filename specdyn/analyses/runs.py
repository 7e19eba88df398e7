"""What every analysis needs from a run: its config, its task built once, and evaluation
of any state of its model with normalisation statistics recomputed."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import torch
from torch import Tensor

from specdyn.analyses.interpolate import recompute_norm_stats
from specdyn.analyses.weights import Weight, inner_weights
from specdyn.config.overrides import from_dict
from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError
from specdyn.store.reader import Run
from specdyn.tasks.base import Evaluation, Experiment
from specdyn.tasks.registry import get_preset, get_task
from specdyn.train.loop import autocast

# Training batches over which BatchNorm statistics are re-estimated (steps 0 .. N-1 of the
# run's own data order, in train mode): at the cpu presets' batch of 128, 2,560 images.
NORM_BATCHES = 20


def check_norm_batches(norm_batches: int) -> None:
    """ConfigError unless at least one batch re-estimates the statistics."""
    if norm_batches < 1:
        raise ConfigError(f"--norm-batches must be at least 1, got {norm_batches}")


def run_config(run: Run) -> RunConfig:
    """The RunConfig a run was trained with, rebuilt from its config.json."""
    task, preset = run.config.get("task"), run.config.get("preset")
    if not isinstance(task, str) or not isinstance(preset, str):
        raise ConfigError(f"run '{run.path}' has no task and preset in its config")
    return from_dict(run.config, get_preset(task, preset))


def build(cfg: RunConfig, device: torch.device) -> Experiment:
    """The run's task, built to evaluate states. Its convolution weights are laid out
    channels-last, which CPU convolutions run faster (VGG-16 ``cpu``, one thread: BatchNorm
    re-estimation 1.5x, evaluation 1.4x); a loaded state is copied into that layout, and
    losses agree with the default layout to float32 rounding."""
    exp = get_task(cfg.task).build(cfg, device)
    # torch's stubs of Module.to omit memory_format
    exp.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return exp


@lru_cache(maxsize=8)
def inner_targets(cfg: RunConfig) -> tuple[Weight, ...]:
    """The weights a run's experiments act on (its model built once, on CPU, to name them)."""
    return tuple(inner_weights(build(cfg, torch.device("cpu")).model))


def evaluate_state(
    exp: Experiment,
    cfg: RunConfig,
    state: Mapping[str, Tensor],
    recompute: bool,
    norm_batches: int = NORM_BATCHES,
) -> Evaluation:
    """Load ``state`` into the experiment's model (no model is rebuilt), re-estimate its
    BatchNorm statistics over ``norm_batches`` training batches when ``recompute``, and
    evaluate every split in eval mode."""
    exp.model.load_state_dict(state)
    device = next(exp.model.parameters()).device
    precision = autocast(cfg.train.bf16, device)
    with precision():
        if recompute:
            recompute_norm_stats(exp.model, exp.loss, range(norm_batches))
        exp.model.eval()
        return exp.evaluate(exp.model)


def same_task(runs: list[Run]) -> None:
    """ConfigError unless every run is of one task and one model."""
    kinds = {(r.config.get("task"), str(r.config.get("model"))) for r in runs}
    if len(kinds) > 1:
        names = ", ".join(f"{r.path} ({r.config.get('task')})" for r in runs)
        raise ConfigError(f"runs of different tasks or models cannot be compared: {names}")
