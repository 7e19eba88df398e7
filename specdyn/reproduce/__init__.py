"""``specdyn reproduce``: the paper's figures, each from the runs it needs, with its claims.

TARGETS, Target       what each figure needs (figure_targets: run and branch targets)
reproduce_one(...)    run, draw and check one (figure, task)
scaled_config(...)    a task's config at a scale (the cpu scale: its cpu preset shrunk)

The experiments on checkpoints (Figures 4, 10-13, 14-pruned) are BranchTargets in
branch_targets; figure_targets merges them with the run targets.
"""

from specdyn.reproduce.figure_targets import TARGETS, get_target
from specdyn.reproduce.run import Report, reproduce_one
from specdyn.reproduce.scales import scaled_config
from specdyn.reproduce.targets import Target

__all__ = ["Report", "TARGETS", "Target", "get_target", "reproduce_one", "scaled_config"]
