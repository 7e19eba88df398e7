"""A run store as compact, JSON-ready data: every table and series the report draws.

History values (short, spanning decades) are rounded to DIGITS significant digits each;
the long arrays are shipped in fixed point: an array becomes ``{"e": e, "q": ints}`` with values
``q * 10**e`` (``e`` chosen so the largest magnitude keeps DIGITS significant digits: plots
need no more) and null where a value is not finite; the page decodes them once.
Runs are read only through the Run API and the figure-choice helpers of ``figures.panels``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from specdyn.errors import RunStoreError
from specdyn.figures.choices import error_label
from specdyn.figures.panels import figure_matrix, figure_pair, heatmap_rows
from specdyn.store import layout
from specdyn.store.reader import Run

DIGITS = 4  # significant digits of the largest value of each array
SUMMARIES = ("alignment", "agreement")  # score rows of pairs (Eq. 4) and matrices (Eq. 5)
STANDARD_SCALARS = layout.SCALAR_METRICS
STANDARD = (*STANDARD_SCALARS, *SUMMARIES)
HISTORY_KEYS = ("step", "split")


def run_data(run: Run) -> dict:
    """Everything the report shows of one run."""
    matrices, pairs = run.matrices, run.pairs
    metric_names = sorted(str(m) for m in run.metrics["metric"].unique())  # stable order
    return {
        "path": str(run.path),
        "name": run.path.name,
        "task": run.config.get("task"),
        "preset": run.config.get("preset"),
        "seed": run.config.get("seed"),
        "errorLabel": _error_label(run),
        "history": history_data(run.history),
        "matrices": matrices,
        "pairs": pairs,
        "rows": heatmap_rows(run) if matrices else [],
        "matrix": figure_matrix(run) if matrices else None,
        "pair": figure_pair(run) if pairs else None,
        "metrics": metric_grids(
            run.metrics, [m for m in layout.SCALAR_METRICS if m in metric_names]
        ),
        "scores": metric_grids(run.metrics, [m for m in SUMMARIES if m in metric_names]),
        "diagnostics": metric_grids(run.metrics, diagnostic_names(metric_names)),
        "baselines": baseline_data(run, metric_names),
        "sv": {m: series(*v) for m, v in run.all_singular_values().items()},
        "align": {p: series(*v) for p, v in run.all_alignments().items()},
        "agree": (
            {m: series(*run.agreement(m)) for m in matrices}
            if "agreement" in metric_names
            else None
        ),
    }


# the metrics set against their random-matrix baseline (and every user-defined one)
AGAINST_RANDOM = (
    "normalized_effective_rank",
    "stable_rank",
    "spectral_norm",
    "alignment",
    "agreement",
    "alpha",
    "mp_outliers",
    "num_spikes",
)


def baseline_data(run: Run, metric_names: list[str]) -> dict[str, dict[str, list[float | None]]]:
    """metric -> matrix or pair -> [value, baseline mean, baseline std] at the last step,
    for AGAINST_RANDOM and the user-defined metrics; a matrix without a baseline (its run
    kept no vectors, so no shape) is left out."""
    names = [m for m in AGAINST_RANDOM if m in metric_names] + layout.user_metrics(metric_names)
    out: dict[str, dict[str, list[float | None]]] = {}
    for metric in names:
        table = run.metrics[run.metrics["metric"] == metric]
        step = int(table["step"].max())
        rows: dict[str, list[float | None]] = {}
        for name, value in run.metric_values(metric).items():
            try:
                base = run.baseline(metric, name, step)
            except (RunStoreError, ValueError):  # no shape kept, or NaN on every draw
                continue
            rows[name] = [_significant(v) for v in (value, base.mean, base.std)]
        out[metric] = rows
    return out


def diagnostic_names(metric_names: list[str]) -> list[str]:
    """The built-in diagnostics (``--metrics all``) and the user-defined metrics (of a
    vector one, its first entries) of a run."""
    built_in = [m for m in metric_names if m in layout.BUILT_IN_METRICS and m not in STANDARD]
    return built_in + layout.user_metrics(metric_names)


def history_data(history: pd.DataFrame) -> dict[str, dict[str, list]]:
    """split -> column -> values (step first), in the order the splits appear."""
    columns = [c for c in history.columns if c not in HISTORY_KEYS]
    out: dict[str, dict[str, list]] = {}
    for split, rows in history.groupby("split", sort=False):
        out[str(split)] = {"step": rows["step"].astype(int).tolist()}
        for column in columns:
            values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
            out[str(split)][str(column)] = rounded(values)
    return out


def metric_grids(table: pd.DataFrame, names: Iterable[str]) -> dict[str, dict]:
    """metric -> {steps, matrices, values: one fixed-point row per matrix (null where the
    step was not recorded)}."""
    grids = {}
    for name in names:
        rows = table[table["metric"] == name]
        grid = rows.pivot_table(index="matrix", columns="step", values="value", sort=False)
        grid = grid.reindex(columns=sorted(grid.columns))
        grids[name] = {
            "steps": [int(s) for s in grid.columns],
            "matrices": [str(m) for m in grid.index],
            "values": [fixed(row) for row in grid.to_numpy(dtype=float)],
        }
    return grids


def series(steps: np.ndarray, values: np.ndarray) -> dict:
    """A recorded series: steps (T,) and values (T, k) in fixed point."""
    return {"t": [int(s) for s in steps], "v": fixed(values)}


def fixed(values: np.ndarray) -> dict:
    """``values`` as {"e": e, "q": nested ints} with values ~ q * 10**e; None where NaN/Inf."""
    array = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(array)
    top = float(np.abs(array[finite]).max()) if finite.any() else 0.0
    e = math.floor(math.log10(top)) - (DIGITS - 1) if top > 0 else 0
    q = np.rint(np.where(finite, array, 0.0) / 10.0**e).astype(np.int64)
    if finite.all():
        return {"e": e, "q": q.tolist()}
    q_or_none = q.astype(object)
    q_or_none[~finite] = None
    return {"e": e, "q": q_or_none.tolist()}


def rounded(values: np.ndarray) -> list[float | None]:
    """Each value at DIGITS significant digits of its own (losses span decades; a log axis
    needs them): for short series only, it is slower than :func:`fixed`."""
    return [_significant(v) for v in np.asarray(values, dtype=np.float64).tolist()]


def _significant(value: float) -> float | None:
    return float(f"{value:.{DIGITS}g}") if math.isfinite(value) else None


def _error_label(run: Run) -> str:
    return error_label(run.config)
