"""Recording metrics users define (:mod:`specdyn.spectral.registry`): one row per matrix
(a vector metric: one per index ``i``, named ``name[i]``), from the decomposition the
recorder made anyway: no second SVD. A ``Recorder`` built without ``metrics=`` records every
registered metric; ``specdyn run`` / ``specdyn analyze`` and the framework callbacks the
ones they are given by spec.

A metric that raises, or returns NaN or a non-number, on a matrix is recorded there as
NaN with one ``UserMetricWarning`` naming the metric and the matrix; the run goes on.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from specdyn.spectral.registry import (
    ENTRY_POINTS,
    MatrixSpectrum,
    MetricFn,
    UserMetric,
    metric,
    registered,
    resolve,
    resolve_all,
)
from specdyn.spectral.svd import Spectrum

__all__ = [
    "ENTRY_POINTS",
    "MatrixSpectrum",
    "MetricFn",
    "UserMetric",
    "UserMetricWarning",
    "metric",
    "metric_rows",
    "registered",
    "resolve",
    "resolve_all",
]


class UserMetricWarning(UserWarning):
    """A user-defined metric failed (or gave NaN) on one matrix; recorded as NaN there."""


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
