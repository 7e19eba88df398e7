"""What every config value may be: checked once the config is resolved, before any folder.

Each field's rule is declared on its dataclass, as ``Annotated[type, rule]``
(``steps: Annotated[int, STEPS] = 1000``, rules in :mod:`.rules`); every settable field of
every task has one (a test checks; a field without one gets only the type check).
``CHECKS`` are the few rules that tie fields together; the facts a task's data fixes are
the task's own (:func:`specdyn.tasks.checks.validate_run` adds them). ``validate(cfg)`` raises
ConfigError at the first violation, one line naming the key, the value and what is
allowed. Values of the wrong type (an API caller's ``steps=10.5``) are refused as well.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Any

from specdyn.config.overrides import SECTIONS, TOP_LEVEL, fields_of
from specdyn.config.rules import ANY, Rule, is_type, show
from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError


def validate(cfg: RunConfig) -> RunConfig:
    """``cfg`` itself when every value and every cross-field rule holds; else ConfigError."""
    hints, rules = _hints(cfg, extras=False), _rules(cfg)
    values = fields_of(cfg)
    for path, value in values.items():
        _check_type(path, value, hints[path])
        problem = rules[path].problem(value)
        if problem is not None:
            raise ConfigError(f"{path}={show(value)} is not allowed: {problem}")
    for check in CHECKS:
        problem = check(cfg.task, values)
        if problem is not None:
            raise ConfigError(problem)
    return cfg


def _hints(cfg: RunConfig, extras: bool) -> dict[str, Any]:
    """Dotted path -> the field's annotation (with its rule when ``extras``)."""
    top = typing.get_type_hints(RunConfig, include_extras=extras)
    hints = {name: top[name] for name in TOP_LEVEL}
    for section in SECTIONS:
        part = getattr(cfg, section)
        if not dataclasses.is_dataclass(part):
            raise ConfigError(f"config section '{section}' is not a dataclass: {part!r}")
        types = typing.get_type_hints(type(part), include_extras=extras)
        hints |= {f"{section}.{f.name}": types[f.name] for f in dataclasses.fields(part)}
    return hints


def rules_of(cfg: RunConfig) -> dict[str, Rule | None]:
    """Dotted path -> the rule its dataclass field declares (``Annotated[type, rule]``);
    None for a field that declares none."""
    out: dict[str, Rule | None] = {}
    for path, hint in _hints(cfg, extras=True).items():
        found = [m for m in getattr(hint, "__metadata__", ()) if hasattr(m, "problem")]
        out[path] = found[0] if found else None
    return out


def _rules(cfg: RunConfig) -> dict[str, Rule]:
    return {path: rule or ANY for path, rule in rules_of(cfg).items()}


def _check_type(path: str, value: Any, kind: Any) -> None:
    if not is_type(value, kind):
        name = getattr(kind, "__name__", str(kind))
        raise ConfigError(f"{path}={show(value)} is not allowed: it must be of type {name}")


# --- rules that tie fields together: each gets (task, dotted path -> value) -------------

Values = Mapping[str, Any]


def _get(values: Values, name: str) -> Any:
    """The value of the field called ``name`` in any section; None when there is none."""
    found = [v for path, v in values.items() if path.split(".")[-1] == name]
    return found[0] if found else None


def _heads_divide_width(task: str, values: Values) -> str | None:
    d, h = _get(values, "d_model"), _get(values, "n_heads")
    if d is not None and h is not None and d % h:
        return f"model.d_model={d} is not allowed: it must be a multiple of model.n_heads={h}"
    return None


def _micro_batch_divides_batch(task: str, values: Values) -> str | None:
    micro, batch = _get(values, "micro_batch"), _get(values, "batch_size")
    if micro and batch % micro:
        return (
            f"data.micro_batch={micro} is not allowed: it must divide data.batch_size={batch} "
            "(or be 0, the whole batch)"
        )
    return None


def _batch_fits_training_set(task: str, values: Values) -> str | None:
    batch = _get(values, "batch_size")
    for name in ("train_size", "train_utterances"):
        n = _get(values, name)
        if n and batch and n < batch:
            return (
                f"data.{name}={n} is not allowed: one batch needs at least "
                f"data.batch_size={batch} training examples"
            )
    return None


def _steps_inside_training(task: str, values: Values) -> str | None:
    steps = values["train.steps"]
    for path in (
        "optim.milestones",
        "record.at",
        "train.checkpoint_at",
        "train.state_at",
        "optim.warmup_steps",
    ):
        value = values[path]
        late = [s for s in (value if isinstance(value, tuple) else (value,)) if s > steps]
        if late:
            return (
                f"{path}={show(value)} is not allowed: {late[0]} lies after the last step "
                f"(train.steps={steps})"
            )
    milestones = values["optim.milestones"]
    if list(milestones) != sorted(set(milestones)):
        return f"optim.milestones={show(milestones)} is not allowed: it must be increasing"
    return None


def _something_recorded(task: str, values: Values) -> str | None:
    if values["record.every"] == 0 and not values["record.at"] and not values["record.log_points"]:
        return (
            "record.every=0 is not allowed without record.at or record.log_points: only the "
            "last step would be recorded"
        )
    return None


def _noise_schedule_rises(task: str, values: Values) -> str | None:
    low, high = _get(values, "beta_low"), _get(values, "beta_high")
    if low is not None and high is not None and low > high:
        return f"data.beta_low={low} is not allowed: it must be <= data.beta_high={high}"
    return None


def _both_splits_nonempty(task: str, values: Values) -> str | None:
    p, fraction = _get(values, "modulus"), _get(values, "train_fraction")
    if p is None or fraction is None:
        return None
    n_train = int(round(fraction * p * p))
    if not 0 < n_train < p * p:
        return (
            f"data.train_fraction={fraction} is not allowed with data.modulus={p}: it leaves "
            f"{n_train} of {p * p} pairs for training, and both splits need at least one"
        )
    return None


# Bytes per (a, b) pair while the modular table is built (specdyn/data/modular.py): the
# pairs (16), the tokens (24), the labels (8), a + b (8), the permutation (8) and both
# splits' copies of tokens and labels (32), with room for the generator's own work.
MODULAR_BYTES_PER_PAIR = 128


def memory_bytes() -> int:
    """This machine's physical memory in bytes (0 where the system does not say)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _modular_table_fits(task: str, values: Values) -> str | None:
    p = _get(values, "modulus")
    if p is None:
        return None
    need, have = p * p * MODULAR_BYTES_PER_PAIR, memory_bytes()
    if have and need > have:
        shown = p if p < 10**15 else _count(p)
        return (
            f"data.modulus={shown} is not allowed: its table of {_count(p * p)} pairs "
            f"would need {_count(need // 2**30)} GiB of memory, more than this machine's "
            f"{_count(have // 2**30)} GiB"
        )
    return None


def _count(n: int) -> str:
    """``n`` with thousands separators, or as 1.23e+45 when it is too long to read."""
    digits = str(n)
    return f"{n:,}" if len(digits) <= 15 else f"{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"


CHECKS: tuple[Callable[[str, Values], str | None], ...] = (
    _heads_divide_width,
    _micro_batch_divides_batch,
    _batch_fits_training_set,
    _steps_inside_training,
    _something_recorded,
    _noise_schedule_rises,
    _modular_table_fits,
    _both_splits_nonempty,
)
