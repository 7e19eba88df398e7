"""Every reproducible figure by number: the figures of training runs
(:mod:`specdyn.reproduce.targets`) and the experiments on checkpoints
(:mod:`specdyn.reproduce.branch_targets`), merged once here; neither table is changed."""

from __future__ import annotations

from specdyn.errors import ConfigError
from specdyn.reproduce.branch_targets import BRANCH_TARGETS
from specdyn.reproduce.targets import RUN_TARGETS, Target

TARGETS: dict[str, Target] = {**RUN_TARGETS, **BRANCH_TARGETS}


def get_target(figure: str) -> Target:
    if figure.removeprefix("figure-").removeprefix("fig") not in TARGETS:
        known = ", ".join(TARGETS)
        raise ConfigError(f"no reproduce target for figure '{figure}'; known: {known}")
    return TARGETS[figure.removeprefix("figure-").removeprefix("fig")]
