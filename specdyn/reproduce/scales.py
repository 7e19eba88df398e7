"""How big a reproduced figure's runs are: ``paper`` (the tasks' paper presets, for a GPU or
a cluster) or ``cpu`` (the tasks' ``cpu`` presets shrunk further, as overrides, so that 3
seeds of every grid point finish within 20 minutes on 2 cores, one point after another).

What ``cpu`` shrinks is each task's own (``Task.cpu_scale``: steps scale the lr-schedule
milestones with them; the recording stays dense enough for a figure).
"""

from __future__ import annotations

from specdyn.errors import ConfigError
from specdyn.tasks.registry import TASKS, get_preset

SCALES = ("cpu", "paper", "tiny")  # tiny: the tasks' tiny presets, seconds, for tests

# task -> its cpu-scale overrides, read from the tasks
CPU_OVERRIDES: dict[str, tuple[str, ...]] = {name: t.cpu_scale for name, t in TASKS.items()}

# The paper's weight-decay grids (Figures 6, 7, 14): SGD tasks take small values, AdamW
# tasks large ones (decoupled decay). The MLP trains with SGD like VGG, so it takes VGG's.
SGD_WEIGHT_DECAYS = ("0", "0.001", "0.01", "0.1")
ADAMW_WEIGHT_DECAYS = ("0", "0.1", "1", "10")


def weight_decays(task: str) -> tuple[str, ...]:
    """The grid of ``task``, by the optimizer of its cpu preset (SGD or AdamW)."""
    sgd = get_preset(task, "cpu").optim.name == "sgd"
    return SGD_WEIGHT_DECAYS if sgd else ADAMW_WEIGHT_DECAYS


def preset_and_overrides(
    task: str, scale: str, paper_preset: str = "paper"
) -> tuple[str, tuple[str, ...]]:
    """(preset, overrides) of ``task`` at ``scale``."""
    if scale == "paper":
        return paper_preset, ()
    if scale == "tiny":
        return "tiny", ()
    if scale == "cpu":
        return "cpu", CPU_OVERRIDES.get(task, ())
    raise ConfigError(f"unknown scale '{scale}'; known: {', '.join(SCALES)}")
