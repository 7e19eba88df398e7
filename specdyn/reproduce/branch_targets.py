"""Reproduce targets of the experiments on checkpoints: Figures 4, 10, 11, 12, 13 and the
pruned curves of Figure 14 (``14-pruned``).

A BranchTarget is a Target in three steps: its trunk sweep (the task's runs, with the
checkpoints or kept training states its experiment needs: ``trunk``), then the experiment on
every finished trunk (``branch``: pruning, lottery branches, LMC branches and pairs; branches
run through the sweep backends), then the figure and the claims, read from the stores.

Default tasks (each task lists its figures, ``Task.paper_figures``): the random-label MLP
for Figures 4, 10 and 14-pruned (the cheapest: about 0.012 CPU-s a step here, every claim
passes at cpu scale); VGG-16, the paper's model, for the linear-mode-connectivity Figures
11-13: the MLP is linearly connected from initialisation, so its barriers have nowhere to
fall from, while VGG-16 is unstable early as in the paper (docs/branches.md). Grokking
trains on the full batch, so branches with another data order are the same run: the LMC
figures are refused for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from specdyn.analyses import lmc
from specdyn.analyses.lottery import lottery_branches
from specdyn.analyses.plans import (
    PERTURB_EPOCH,
    REWIND_EPOCH,
    epoch_steps,
    lmc_splits,
    lottery_matrix,
)
from specdyn.analyses.prune_run import prune_run
from specdyn.analyses.runs import run_config
from specdyn.config.schema import RunConfig
from specdyn.figures.branch_sweeps import draw_lmc_kind, draw_lottery, draw_prune, draw_pruned_wd
from specdyn.reproduce import branch_claims as bc
from specdyn.reproduce.scales import scaled_config
from specdyn.reproduce.targets import Target, no_grid, weight_decay_grid
from specdyn.store.reader import open_run
from specdyn.sweep.backends import Execution
from specdyn.sweep.results import Sweep
from specdyn.sweep.worker import DONE
from specdyn.tasks.base import Scale, Task
from specdyn.tasks.registry import get_task

ETAS = {"paper": (0.0, 0.1, 0.25, 0.5, 1.0, 2.5), "cpu": (0.0, 0.5, 1.0, 2.5), "tiny": (0.0, 2.5)}
DENSITY = 0.05


def _checkpoint_scale(task: Task) -> Scale | None:
    return task.checkpoint_trunk_scale


def _lmc_scale(task: Task) -> Scale | None:
    return task.lmc_trunk_scale


@dataclass(frozen=True)
class BranchTarget(Target):
    """trunk(cfg, scale): the task's config at that scale with what the trunks need
    (checkpoints, kept states, recording). branch(sweep, scale, execution): the experiment
    on the sweep's finished runs; returns the number of branches that failed. shrink(task):
    the cpu scale of the trunks (None: the task's cpu_scale)."""

    trunk: Callable[[RunConfig, str], RunConfig] = lambda cfg, scale: cfg
    branch: Callable[[Sweep, str, Execution], int] = lambda sweep, scale, run: 0
    shrink: Callable[[Task], Scale | None] = lambda task: None

    def config(self, task: str, scale: str) -> RunConfig:
        return self.trunk(scaled_config(task, scale, self.shrink(get_task(task))), scale)

    def after_sweep(self, sweep: Sweep, scale: str, execution: Execution) -> int:
        return self.branch(sweep, scale, execution)


def _trunks(sweep: Sweep) -> list[Path]:
    return [run.path for _, _, run in sweep.runs()]


# Figures 4, 10 and 14-pruned: checkpoints every tenth of training, recorded twice as often
# (the pruning reuses the recorded decompositions), the state at the rewind step kept.
def rewind_step(cfg: RunConfig) -> int:
    """The end of epoch 4, or a quarter of training when that is later than its end."""
    step = REWIND_EPOCH * epoch_steps(cfg)
    return step if step < cfg.train.steps else cfg.train.steps // 4


def checkpoint_trunk(cfg: RunConfig, scale: str) -> RunConfig:
    steps, every = cfg.train.steps, cfg.record.every
    if scale != "paper":
        every = max(1, steps // 20)
    ckpt = every * max(1, steps // (10 * every))
    train = replace(cfg.train, checkpoint_every=ckpt, state_at=(rewind_step(cfg),))
    return replace(cfg, train=train, record=replace(cfg.record, every=every))


def prune_all(sweep: Sweep, scale: str, execution: Execution) -> int:
    for path in _trunks(sweep):
        prune_run(path, 0.5, execution.torch_device())
    return 0


def lottery_all(sweep: Sweep, scale: str, execution: Execution) -> int:
    trunks = _trunks(sweep)
    if not trunks:
        return 0
    step = rewind_step(run_config(open_run(trunks[0])))
    done = lottery_branches(trunks, ("magnitude", "random"), DENSITY, step, 0, execution)
    return sum(outcome.state != DONE for _, outcome in done)


# Figures 11-13: one trunk sweep (state kept at every split, the perturbation's among them)
def lmc_plan(cfg: RunConfig, scale: str) -> tuple[tuple[int, ...], int, int]:
    """(split steps, perturbation step, branches per trunk). paper: Appendix A.9's splits,
    the end of epoch 4, 3 branches. Smaller scales: step 0, a fifth of epoch 1, the ends of
    epochs 1 and 3; the perturbation at the end of epoch 1; 2 branches."""
    e, steps = epoch_steps(cfg), cfg.train.steps
    if scale == "paper":
        return lmc_splits(cfg), min(PERTURB_EPOCH * e, steps - 1), 3
    splits = tuple(sorted({s for s in (0, round(e / 5), e, 3 * e) if s < steps}))
    return splits, min(e, steps - 1), 2


def lmc_trunk(cfg: RunConfig, scale: str) -> RunConfig:
    splits, perturb, _ = lmc_plan(cfg, scale)
    kept = tuple(sorted({*splits, perturb}))
    return replace(cfg, train=replace(cfg.train, state_at=kept))


def lmc_step(kinds: tuple[str, ...]) -> Callable[[Sweep, str, Execution], int]:
    def step(sweep: Sweep, scale: str, execution: Execution) -> int:
        trunks = _trunks(sweep)
        if not trunks:
            return 0
        cfg = run_config(open_run(trunks[0]))
        splits, perturb, branches = lmc_plan(cfg, scale)
        if kinds == ("perturb",):
            design = lmc.Design(cfg, len(trunks), branches, (), ETAS[scale], perturb)
        else:
            design = lmc.Design(cfg, len(trunks), branches, splits)
        _, outcomes = lmc.branch_and_compare(design, sweep.path, trunks, execution, kinds)
        return sum(o.state != DONE for o in outcomes)

    return step


def _lmc(figure: str, kind: str, claims: tuple) -> BranchTarget:
    return BranchTarget(
        figure, no_grid, claims, draw_lmc_kind(kind),
        minibatch_only=True, trunk=lmc_trunk, branch=lmc_step((kind,)), shrink=_lmc_scale,
    )  # fmt: skip


BRANCH_TARGETS: dict[str, Target] = {
    "4": BranchTarget(
        "4",
        no_grid,
        (bc.top_half_keeps, bc.bottom_half_loses, bc.pruning_gap_grows),
        draw_prune,
        trunk=checkpoint_trunk,
        branch=prune_all,
        shrink=_checkpoint_scale,
    ),  # fmt: skip
    "10": BranchTarget(
        "10",
        no_grid,
        (bc.magnitude_trains_better, bc.magnitude_keeps_final, bc.magnitude_keeps_trajectory),
        lambda sweep, figure, path: draw_lottery(sweep, path, lottery_matrix(sweep.task)),
        trunk=checkpoint_trunk,
        branch=lottery_all,
        shrink=_checkpoint_scale,
    ),  # fmt: skip
    "11": _lmc("11", "same", (bc.barrier_falls, bc.agreement_rises)),
    "12": _lmc("12", "cross", (bc.cross_barrier_high, bc.cross_agreement_low)),
    "13": _lmc("13", "perturb", (bc.perturb_barrier_rises, bc.perturb_agreement_falls)),
    "14-pruned": BranchTarget(
        "14-pruned",
        weight_decay_grid,
        (bc.pruned_gap_closes,),
        draw_pruned_wd,
        trunk=checkpoint_trunk,
        branch=prune_all,
        shrink=_checkpoint_scale,
    ),  # fmt: skip
}
