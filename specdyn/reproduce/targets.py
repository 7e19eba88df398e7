"""What each reproducible figure needs: its tasks, its grid, its claims, how it is drawn.

A target turns (task, scale, seeds) into a SweepSpec; the sweep's stores then feed the
figure and the claims. ``RUN_TARGETS`` holds the figures drawn from training runs; the
experiments on checkpoints are in :mod:`specdyn.reproduce.branch_targets`, and
:mod:`specdyn.reproduce.figure_targets` holds both. A new figure is one entry::

    RUN_TARGETS["4"] = Target("4", grid=..., claims=(...), draw=...)

The tasks a figure is drawn for by default are those that list it (``Task.paper_figures``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError
from specdyn.figures.sweeps import draw as draw_sweep_figure
from specdyn.reproduce import claims as c
from specdyn.reproduce.scales import scale_preset, scaled_config, weight_decays
from specdyn.sweep.backends import Execution
from specdyn.sweep.results import Sweep
from specdyn.sweep.spec import SweepSpec
from specdyn.tasks.base import unchanged

Grid = tuple[tuple[str, tuple[Any, ...]], ...]  # (key, typed values)


def no_grid(task: str) -> Grid:
    return ()


def weight_decay_grid(task: str) -> Grid:
    return (("weight_decay", weight_decays(task)),)


@dataclass(frozen=True)
class Target:
    """figure: its number. grid(task): what is swept besides seeds. claims: functions
    Sweep -> Claim. draw(sweep, figure, path): the figure (default:
    specdyn.figures.sweeps.draw). only_paper_tasks: drawn only for the tasks that list it;
    minibatch_only: not for full-batch tasks. full_cpu: at --scale cpu, run the tasks' cpu
    presets as they are, not shrunk (for a figure with few points)."""

    figure: str
    grid: Callable[[str], Grid]
    claims: tuple[Callable[[Sweep], c.Claim], ...]
    draw: Callable[[Sweep, str, Path], Path] = draw_sweep_figure
    only_paper_tasks: bool = False
    minibatch_only: bool = False
    full_cpu: bool = False

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks the paper draws this figure for (the default of --task)."""
        from specdyn.tasks.registry import TASKS

        return tuple(name for name, t in TASKS.items() if self.figure in t.paper_figures)

    def allowed(self) -> tuple[str, ...]:
        """The tasks this figure can be drawn for; () for any."""
        from specdyn.tasks.registry import TASKS

        if self.only_paper_tasks:
            return self.tasks
        if self.minibatch_only:
            return tuple(name for name, t in TASKS.items() if not t.full_batch)
        return ()

    def spec(
        self,
        task: str,
        scale: str,
        seeds: tuple[int, ...],
        backend: str = "local",
        workers: int | None = None,
        address: str | None = None,
    ) -> SweepSpec:
        allowed = self.allowed()
        if allowed and task not in allowed:
            raise ConfigError(f"figure {self.figure} is drawn for {', '.join(allowed)}")
        preset = scale_preset(task, scale)
        base = self.config(task, scale)
        grid = self.grid(task)
        if not grid and len(seeds) < 2:
            grid = (("weight_decay", (_default_weight_decay(task, preset),)),)
        return SweepSpec(task, preset, grid, seeds, (), backend, workers, address, base=base)

    def config(self, task: str, scale: str) -> RunConfig:
        """The config every point starts from: the task's at ``scale`` (scales.py)."""
        return scaled_config(task, scale, unchanged if self.full_cpu else None)

    def after_sweep(self, sweep: Sweep, scale: str, execution: Execution) -> int:
        """Work on the sweep's finished runs before the figure is drawn (experiments on
        checkpoints: see branch_targets); returns how many of its points failed."""
        return 0


def _default_weight_decay(task: str, preset: str) -> float:
    """A one-point grid for a one-seed run of a seeds-only figure."""
    from specdyn.tasks.registry import get_preset

    return get_preset(task, preset).optim.weight_decay


RUN_TARGETS: dict[str, Target] = {
    "2": Target(
        "2",
        lambda task: (("weight_decay", (0.0, 1.0)),),
        (c.weight_decay_groks,),
        only_paper_tasks=True,
    ),
    "3": Target("3", no_grid, (c.rank_falls,)),
    "5": Target("5", no_grid, (c.alignment_develops,)),
    "6": Target("6", weight_decay_grid, (c.rank_decreases_with, c.validation_holds)),
    "7": Target("7", weight_decay_grid, (c.alignment_grows_with,)),
    "8": Target(
        "8",
        lambda task: (("labels", ("true", "random")),),
        (c.true_labels_lower_rank, c.both_fit_training),
        only_paper_tasks=True,
        full_cpu=True,  # 2 x 3 runs of the cpu preset fit in 20 minutes
    ),
    "9": Target("9", no_grid, (c.top_vectors_settle_first,)),
    "14": Target("14", weight_decay_grid, (c.validation_holds, c.rank_decreases_with)),
}
