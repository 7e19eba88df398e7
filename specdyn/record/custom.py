"""Metrics users define: a pure function of one matrix's decomposition, recorded by name.

    @specdyn.metric("top1_share")
    def top1_share(sp):                  # sp: a MatrixSpectrum (.s, .U, .V, .name, .shape)
        return float(sp.s[0] / sp.s.sum())

A metric returns a scalar (one row of the metrics table, under its name) or a per-index
vector (one row per index ``i``, named ``name[i]``). It reads the decomposition the
recorder made anyway: no second SVD. Registered metrics are recorded by a ``Recorder``
built without ``metrics=``; ``specdyn run`` / ``specdyn analyze`` and the framework
callbacks record the ones they are given by spec:

    "module:function"   imported (its module may register it under another name)
    "name"              a registered metric, else the entry point ``name`` of the group
                        ``specdyn.metrics`` (how an installed package offers metrics)

A metric that raises, or returns NaN or a non-number, on a matrix is recorded there as
NaN with one ``UserMetricWarning`` naming the metric and the matrix; the run goes on.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
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


class UserMetricWarning(UserWarning):
    """A user-defined metric failed (or gave NaN) on one matrix; recorded as NaN there."""


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
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"cannot load metric '{spec}': {err}") from None
    if not callable(target):
        raise ConfigError(f"metric '{spec}' is not a function")
    return target


def _by_function(fn: MetricFn, spec: str) -> UserMetric:
    """The registered metric whose function is ``fn``, else ``fn`` under its own name."""
    for m in REGISTRY.values():
        if m.fn is fn:
            return UserMetric(m.name, fn, spec)
    return UserMetric(getattr(fn, "__name__", spec.rpartition(":")[2]), fn, spec)


def metric_rows(
    metrics: Sequence[UserMetric],
    step: int,
    spectra: Mapping[str, Spectrum],
    shapes: Mapping[str, tuple[int, int]],
    warned: set[tuple[str, str]],
) -> list[dict]:
    """Tidy rows (step, matrix, metric, value) of every metric on every matrix. ``warned``:
    the (metric, matrix) pairs already warned about, updated (one warning per pair)."""
    rows = []
    for name, sp in spectra.items():
        view = MatrixSpectrum(sp.s, sp.U, sp.V, name, shapes[name])
        for m in metrics:
            for metric_name, value in _values(m, view, warned):
                rows.append({"step": step, "matrix": name, "metric": metric_name, "value": value})
    return rows


def _values(
    m: UserMetric, view: MatrixSpectrum, warned: set[tuple[str, str]]
) -> list[tuple[str, float]]:
    """(row name, value) pairs of ``m`` on one matrix; [(name, nan)] with a warning when
    it fails."""
    try:
        out = _as_floats(m.fn(view))
    except Exception as err:  # a user's function: any failure is reported, not fatal
        _warn(m, view, f"raised {type(err).__name__}: {err}", warned)
        return [(m.name, math.nan)]
    if out is None:
        _warn(m, view, "returned neither a number nor a vector of numbers", warned)
        return [(m.name, math.nan)]
    if any(math.isnan(v) for v in out[1]):
        _warn(m, view, "returned NaN", warned)
    if out[0]:  # a vector
        return [(f"{m.name}[{i}]", v) for i, v in enumerate(out[1])]
    return [(m.name, out[1][0])]


def _as_floats(value: Any) -> tuple[bool, list[float]] | None:
    """(is a vector, its values as floats); None when ``value`` is not numeric."""
    if hasattr(value, "tolist"):  # a tensor or numpy array
        value = value.tolist()
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return False, [float(value)]
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        return True, [float(v) for v in value]
    return None


def _warn(m: UserMetric, view: MatrixSpectrum, what: str, warned: set[tuple[str, str]]) -> None:
    if (m.name, view.name) in warned:
        return
    warned.add((m.name, view.name))
    shape = "x".join(map(str, view.shape))
    message = f"metric '{m.name}' {what} on matrix '{view.name}' ({shape}); recorded as NaN"
    warnings.warn(message, UserMetricWarning, stacklevel=4)
