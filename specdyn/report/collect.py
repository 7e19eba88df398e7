"""A run store as compact, JSON-ready data: every table and series the report draws.

Floats are rounded to a few significant digits (plots need no more) and NaN becomes null.
Runs are read only through the Run API and the figure-choice helpers of ``figures.panels``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from specdyn.figures.panels import figure_matrix, figure_pair, heatmap_rows
from specdyn.record.recorder import SCALARS
from specdyn.store.reader import Run

DIGITS = 4  # significant digits kept for every float
SUMMARIES = ("alignment", "agreement")  # score rows of pairs (Eq. 4) and matrices (Eq. 5)
STANDARD = (*SCALARS, *SUMMARIES)
HISTORY_KEYS = ("step", "split")


def run_data(run: Run) -> dict:
    """Everything the report shows of one run."""
    matrices, pairs = run.matrices, run.pairs
    metric_names = [str(m) for m in run.metrics["metric"].unique()]
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
        "metrics": metric_grids(run.metrics, [m for m in SCALARS if m in metric_names]),
        "scores": metric_grids(run.metrics, [m for m in SUMMARIES if m in metric_names]),
        "diagnostics": metric_grids(run.metrics, [m for m in metric_names if m not in STANDARD]),
        "sv": {m: series(*run.singular_values(m)) for m in matrices},
        "align": {p: series(*run.alignment(p)) for p in pairs},
        "agree": (
            {m: series(*run.agreement(m)) for m in matrices}
            if "agreement" in metric_names
            else None
        ),
    }


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
    """metric -> {steps, matrices, values[matrix][step]} (null where not recorded)."""
    grids = {}
    for name in names:
        rows = table[table["metric"] == name]
        grid = rows.pivot_table(index="matrix", columns="step", values="value", sort=False)
        grid = grid.reindex(columns=sorted(grid.columns))
        grids[name] = {
            "steps": [int(s) for s in grid.columns],
            "matrices": [str(m) for m in grid.index],
            "values": rounded(grid.to_numpy(dtype=float)),
        }
    return grids


def series(steps: np.ndarray, values: np.ndarray) -> dict:
    """A recorded series: steps (T,) and values (T, k) as rounded lists."""
    return {"t": [int(s) for s in steps], "v": rounded(values)}


def rounded(values: np.ndarray) -> list:
    """Nested lists of ``values`` at DIGITS significant digits, whole numbers as ints (the
    shortest JSON); NaN and Inf become None."""
    array = np.asarray(values, dtype=np.float64)
    flat = [_short(v) for v in array.ravel().tolist()]
    return np.array(flat, dtype=object).reshape(array.shape).tolist()


def _short(value: float) -> float | int | None:
    if not math.isfinite(value):
        return None
    value = float(f"{value:.{DIGITS}g}")
    return int(value) if value.is_integer() and abs(value) < 1e15 else value


def _error_label(run: Run) -> str:
    return str(run.config.get("figures", {}).get("error_label") or "error")
