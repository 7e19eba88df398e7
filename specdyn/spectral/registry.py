"""The registry of metrics users define: a pure function of one matrix's decomposition.

    @specdyn.metric("top1_share")
    def top1_share(sp):                  # sp: a MatrixSpectrum (.s, .U, .V, .name, .shape)
        return float(sp.s[0] / sp.s.sum())

A metric returns a scalar or a per-index vector. It is named by a spec:

    "module:function"   imported (its module may register it under another name)
    "name"              a registered metric, else the entry point ``name`` of the group
                        ``specdyn.metrics`` (how an installed package offers metrics)

A plain dict from name to metric, like every registry of specdyn. Recording them is
:mod:`specdyn.record.custom`; their random-matrix baseline :mod:`specdyn.spectral.baselines`.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from specdyn.errors import ConfigError
from specdyn.spectral.svd import Spectrum

ENTRY_POINTS = "specdyn.metrics"  # the entry-point group of installed packages' metrics


@dataclass(frozen=True)
class MatrixSpectrum(Spectrum):
    """A Spectrum with the matrix it came from: ``name`` and ``shape`` (m, n)."""

    name: str = ""
    shape: tuple[int, int] = (0, 0)


MetricFn = Callable[[MatrixSpectrum], Any]


@dataclass(frozen=True)
class UserMetric:
    """A metric users define: its name in the tables, the function, and the spec it was
    named by (what a run's config records, so that a resumed run records it again)."""

    name: str
    fn: MetricFn
    spec: str


REGISTRY: dict[str, UserMetric] = {}


def metric(name: str) -> Callable[[MetricFn], MetricFn]:
    """Decorator: register ``fn`` as the metric ``name``; returns ``fn`` unchanged."""
    if not name or "[" in name or "/" in name:
        raise ValueError(f"a metric name must be non-empty, without '[' or '/': {name!r}")

    def register(fn: MetricFn) -> MetricFn:
        spec = f"{fn.__module__}:{fn.__qualname__}"
        REGISTRY[name] = UserMetric(name, fn, spec)
        return fn

    return register


def resolve(spec: str | UserMetric | MetricFn) -> UserMetric:
    """The metric a spec names (see the module docstring); ConfigError if none."""
    if isinstance(spec, UserMetric):
        return spec
    if callable(spec):
        return _by_function(spec, f"{spec.__module__}:{spec.__qualname__}")
    if ":" in spec:
        return _by_function(_import(spec), spec)
    if spec in REGISTRY:
        return REGISTRY[spec]
    for entry in metadata.entry_points(group=ENTRY_POINTS):
        if entry.name == spec:
            return UserMetric(spec, entry.load(), entry.value)
    raise ConfigError(
        f"no metric named '{spec}': not registered, and no entry point '{spec}' in the group "
        f"'{ENTRY_POINTS}' (name a function as module:function)"
    )


def resolve_all(specs: Iterable[str | UserMetric | MetricFn]) -> tuple[UserMetric, ...]:
    """Every spec resolved; ConfigError if two share a name."""
    found = tuple(resolve(s) for s in specs)
    names = [m.name for m in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"two metrics are named {', '.join(map(repr, twice))}")
    return found


def registered() -> tuple[UserMetric, ...]:
    """The metrics registered so far (with ``@specdyn.metric``), in registration order."""
    return tuple(REGISTRY.values())


def _import(spec: str) -> MetricFn:
    module_name, _, attr = spec.partition(":")
    try:
        target: Any = _module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"cannot load metric '{spec}': {err}") from None
    if not callable(target):
        raise ConfigError(f"metric '{spec}' is not a function")
    return target


def _module(name: str) -> Any:
    """The module ``name``, looked for in the current folder too (as ``python -m`` does; the
    installed ``specdyn`` command's path holds only its own folder)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name.partition(".")[0] or os.getcwd() in sys.path:
            raise
    sys.path.append(os.getcwd())
    return importlib.import_module(name)


def _by_function(fn: MetricFn, spec: str) -> UserMetric:
    """The registered metric whose function is ``fn``, else ``fn`` under its own name."""
    for m in REGISTRY.values():
        if m.fn is fn:
            return UserMetric(m.name, fn, spec)
    return UserMetric(getattr(fn, "__name__", spec.rpartition(":")[2]), fn, spec)
