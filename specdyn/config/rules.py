"""The kinds of rule a config field can have (see :mod:`specdyn.config.validate`).

Each has ``problem(value) -> str | None``: None when ``value`` is allowed, else what is
allowed, as a phrase with its subject ("it must be >= 1").
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Range:
    """A finite number in [low, high]; ``open_low`` / ``open_high`` exclude that end."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    multiple_of: int = 1

    def problem(self, value: Any) -> str | None:
        if not finite(value):
            return f"it must be a finite number {self.allowed()}"
        below = self.low is not None and (value <= self.low if self.open_low else value < self.low)
        above = self.high is not None and (
            value >= self.high if self.open_high else value > self.high
        )
        if below or above or (self.multiple_of > 1 and value % self.multiple_of):
            return f"it must be {self.allowed()}"
        return None

    def allowed(self) -> str:
        even = " and even" if self.multiple_of == 2 else ""
        if self.low is not None and self.high is not None:
            left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
            return f"in {left}{_number(self.low)}, {_number(self.high)}{right}{even}"
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {_number(self.low)}{even}"
        if self.high is not None:
            return f"{'<' if self.open_high else '<='} {_number(self.high)}{even}"
        return f"any number{even}"


@dataclass(frozen=True)
class OneOf:
    choices: tuple[str, ...]

    def problem(self, value: Any) -> str | None:
        return None if value in self.choices else f"it must be one of {', '.join(self.choices)}"


@dataclass(frozen=True)
class Items:
    """A tuple of ``min_len`` to ``max_len`` items, each allowed by ``each``."""

    each: Range | OneOf | Text
    min_len: int = 0
    max_len: int | None = None

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, tuple) or len(value) < self.min_len:
            return f"it must be a comma list of at least {self.min_len} values"
        if self.max_len is not None and len(value) > self.max_len:
            return f"it must be a comma list of at most {self.max_len} values"
        for item in value:
            problem = self.each.problem(item)
            if problem is not None:
                return problem.replace("it must", "every value must", 1)
        return None


@dataclass(frozen=True)
class Text:
    """Any string (``nonempty``: at least one character)."""

    nonempty: bool = False

    def problem(self, value: Any) -> str | None:
        return "it must not be empty" if self.nonempty and not value else None


@dataclass(frozen=True)
class Maybe:
    """None, or a value ``rule`` allows."""

    rule: Range

    def problem(self, value: Any) -> str | None:
        return None if value is None else self.rule.problem(value)


def finite(value: Any) -> bool:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return numeric and math.isfinite(value)


def is_type(value: Any, kind: Any) -> bool:
    args = typing.get_args(kind)
    if typing.get_origin(kind) is tuple:
        inner = args[0] if args else str
        return isinstance(value, tuple) and all(is_type(v, inner) for v in value)
    if type(None) in args:
        return value is None or any(is_type(value, a) for a in args if a is not type(None))
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind) if isinstance(kind, type) else True


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "(empty)"
    return repr(value) if isinstance(value, str) else str(value)


Rule = Range | OneOf | Items | Text | Maybe

MAX_STEPS = 10**9  # step counters are int64 and step files are named with 8+ digits
MAX_SEED = 2**63 - 1  # torch.manual_seed takes seeds in [0, 2^63)

ANY = Text()  # booleans and free text: the type check is all there is
COUNT = Range(0)  # a size where 0 means "all" or "none", as each field documents
SIZE = Range(1)
SEED = Range(0, MAX_SEED)
FRACTION = Range(0, 1, open_low=True, open_high=True)
STEP = Range(0, MAX_STEPS)
STEPS = Range(1, MAX_STEPS)
