"""How big a reproduced figure's runs are: ``paper`` (the tasks' paper presets, for a GPU or
a cluster) or ``cpu`` (the tasks' ``cpu`` presets shrunk further, so that 3 seeds of every
grid point finish within 20 minutes on 2 cores, one point after another).

What ``cpu`` shrinks is each task's own (``Task.cpu_scale``, a RunConfig -> RunConfig
function: fewer steps, lr-schedule milestones with them, recording dense enough for a
figure).
"""

from __future__ import annotations

from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError
from specdyn.tasks.base import Scale
from specdyn.tasks.registry import get_preset, get_task

SCALES = ("cpu", "paper", "tiny")  # tiny: the tasks' tiny presets, seconds, for tests

# The paper's weight-decay grids (Figures 6, 7, 14): SGD tasks take small values, AdamW
# tasks large ones (decoupled decay). The MLP trains with SGD like VGG, so it takes VGG's.
SGD_WEIGHT_DECAYS = (0.0, 0.001, 0.01, 0.1)
ADAMW_WEIGHT_DECAYS = (0.0, 0.1, 1.0, 10.0)


def weight_decays(task: str) -> tuple[float, ...]:
    """The grid of ``task``, by the optimizer of its cpu preset (SGD or AdamW)."""
    sgd = get_preset(task, "cpu").optim.name == "sgd"
    return SGD_WEIGHT_DECAYS if sgd else ADAMW_WEIGHT_DECAYS


def scale_preset(task: str, scale: str) -> str:
    """The preset ``task`` starts from at ``scale``."""
    if scale not in SCALES:
        raise ConfigError(f"unknown scale '{scale}'; known: {', '.join(SCALES)}")
    return get_task(task).paper_preset if scale == "paper" else scale


def scaled_config(task: str, scale: str, shrink: Scale | None = None) -> RunConfig:
    """The config of ``task`` at ``scale``: its paper or tiny preset as it is, its cpu preset
    shrunk by ``shrink`` (default: the task's ``cpu_scale``)."""
    cfg = get_preset(task, scale_preset(task, scale))
    if scale != "cpu":
        return cfg
    return (shrink or get_task(task).cpu_scale)(cfg)
