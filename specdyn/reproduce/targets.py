"""What each reproducible figure needs: its tasks, its grid, its claims, how it is drawn.

A target turns (task, scale, seeds) into a SweepSpec; the sweep's stores then feed the
figure and the claims. ``RUN_TARGETS`` holds the figures drawn from training runs; the
experiments on checkpoints are in :mod:`specdyn.reproduce.branch_targets`, and
:mod:`specdyn.reproduce.figure_targets` holds both. A new figure is one entry::

    RUN_TARGETS["4"] = Target("4", PAPER_TASKS, grid=..., claims=(...), draw=...)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from specdyn.errors import ConfigError
from specdyn.figures.sweeps import draw as draw_sweep_figure
from specdyn.reproduce import claims as c
from specdyn.reproduce.scales import preset_and_overrides, weight_decays
from specdyn.sweep.backends import Execution
from specdyn.sweep.results import Sweep
from specdyn.sweep.spec import SweepSpec

Grid = tuple[tuple[str, tuple[str, ...]], ...]
PAPER_TASKS = ("vgg16-cifar10", "unet-mnist", "lstm-librispeech", "transformer-wikitext103")
# the preset that is "the paper's" for a task when no other is named
PAPER_PRESETS = {"grokking": "paper-grok"}


def no_grid(task: str) -> Grid:
    return ()


def weight_decay_grid(task: str) -> Grid:
    return (("weight_decay", weight_decays(task)),)


@dataclass(frozen=True)
class Target:
    """figure: its number. tasks: the paper's panels (the default of --task). grid(task):
    what is swept besides seeds. claims: functions Sweep -> Claim. draw(sweep, figure,
    path): the figure (default: specdyn.figures.sweeps.draw). allowed: tasks it supports
    (empty: any). full_cpu: at --scale cpu, run the tasks' cpu presets as they are, not
    shrunk (for a figure with few points)."""

    figure: str
    tasks: tuple[str, ...]
    grid: Callable[[str], Grid]
    claims: tuple[Callable[[Sweep], c.Claim], ...]
    draw: Callable[[Sweep, str, Path], Path] = draw_sweep_figure
    allowed: tuple[str, ...] = ()
    full_cpu: bool = False

    def spec(
        self,
        task: str,
        scale: str,
        seeds: tuple[int, ...],
        backend: str = "local",
        workers: int | None = None,
        address: str | None = None,
    ) -> SweepSpec:
        if self.allowed and task not in self.allowed:
            raise ConfigError(f"figure {self.figure} is drawn for {', '.join(self.allowed)}")
        preset, shrunk = preset_and_overrides(task, scale, PAPER_PRESETS.get(task, "paper"))
        overrides = self.overrides(task, scale, preset, shrunk)
        grid = self.grid(task)
        if not grid and len(seeds) < 2:
            grid = (("weight_decay", (_default_weight_decay(task, preset),)),)
        return SweepSpec(task, preset, grid, seeds, overrides, backend, workers, address)

    def overrides(
        self, task: str, scale: str, preset: str, shrunk: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The ``--set`` overrides of every point; ``shrunk``: the scale's (scales.py)."""
        return () if self.full_cpu else shrunk

    def after_sweep(self, sweep: Sweep, scale: str, execution: Execution) -> int:
        """Work on the sweep's finished runs before the figure is drawn (experiments on
        checkpoints: see branch_targets); returns how many of its points failed."""
        return 0


def _default_weight_decay(task: str, preset: str) -> str:
    """A one-point grid for a one-seed run of a seeds-only figure."""
    from specdyn.tasks.registry import get_preset

    return repr(get_preset(task, preset).optim.weight_decay)


RUN_TARGETS: dict[str, Target] = {
    "2": Target(
        "2",
        ("grokking",),
        lambda task: (("weight_decay", ("0", "1")),),
        (c.weight_decay_groks,),
        allowed=("grokking",),
    ),
    "3": Target("3", PAPER_TASKS, no_grid, (c.rank_falls,)),
    "5": Target("5", PAPER_TASKS, no_grid, (c.alignment_develops,)),
    "6": Target("6", PAPER_TASKS, weight_decay_grid, (c.rank_decreases_with, c.validation_holds)),
    "7": Target("7", PAPER_TASKS, weight_decay_grid, (c.alignment_grows_with,)),
    "8": Target(
        "8",
        ("mlp-cifar10",),
        lambda task: (("labels", ("true", "random")),),
        (c.true_labels_lower_rank, c.both_fit_training),
        allowed=("mlp-cifar10",),
        full_cpu=True,  # 2 x 3 runs of the cpu preset fit in 20 minutes
    ),
    "9": Target("9", PAPER_TASKS, no_grid, (c.top_vectors_settle_first,)),
    "14": Target("14", PAPER_TASKS, weight_decay_grid, (c.validation_holds, c.rank_decreases_with)),
}
