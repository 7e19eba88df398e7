"""When to record: every N steps, at explicit steps, and/or at log-spaced steps."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Schedule:
    """A set of steps. ``every``: multiples of N (0 included); ``at``: explicit steps;
    ``log_points``: that many log-spaced steps in [1, ``last``]. ``last`` is always in."""

    every: int = 0
    at: tuple[int, ...] = ()
    log_points: int = 0
    last: int | None = None

    def __post_init__(self) -> None:
        negative_last = self.last is not None and self.last < 0
        if self.every < 0 or self.log_points < 0 or negative_last or any(s < 0 for s in self.at):
            raise ValueError(f"schedule values must be non-negative: {self}")
        if self.log_points and self.last is None:
            raise ValueError("a log-spaced schedule needs `last`, the final step")

    def __contains__(self, step: int) -> bool:
        if step == self.last or step in self.at or step in self._log_steps:
            return True
        return self.every > 0 and step % self.every == 0

    @cached_property
    def _log_steps(self) -> frozenset[int]:
        if not self.log_points:
            return frozenset()
        points = np.geomspace(1, max(self.last or 1, 1), self.log_points)
        return frozenset(int(round(p)) for p in points) | {0}

    def steps(self, last: int) -> list[int]:
        """Every scheduled step in [0, last]."""
        return [s for s in range(last + 1) if s in self]


def spread(steps: list[int], points: int) -> list[int]:
    """``points`` of ``steps``, evenly spread by position, the first and last included;
    all of them when ``points`` is 0 or at least their number."""
    if points <= 0 or points >= len(steps):
        return list(steps)
    if points == 1:
        return [steps[-1]]
    picks = np.round(np.linspace(0, len(steps) - 1, points)).astype(int)
    return [steps[i] for i in sorted(set(picks.tolist()))]
