"""``specdyn reproduce``: the paper's figures, each from the runs it needs, with its claims.

TARGETS, Target       what each figure needs (add an entry for a new figure)
reproduce_one(...)    run, draw and check one (figure, task)
CPU_OVERRIDES         how the cpu scale shrinks each task's cpu preset

The experiments on checkpoints (Figures 4, 10-13, 14-pruned) are BranchTargets in
branch_targets; they are registered in TARGETS here, where every import of this package
passes first.
"""

from specdyn.reproduce.branch_targets import BRANCH_TARGETS
from specdyn.reproduce.run import Report, reproduce_one
from specdyn.reproduce.scales import CPU_OVERRIDES
from specdyn.reproduce.targets import TARGETS, Target, get_target

TARGETS.update(BRANCH_TARGETS)

__all__ = ["CPU_OVERRIDES", "Report", "TARGETS", "Target", "get_target", "reproduce_one"]
