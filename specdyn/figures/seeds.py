"""Panels over several seeds of one setting: means, with a +- std band on lines.

Each panel takes the finished runs of one grid point (one per seed) and reads only their
stores. The matrix and pair shown come from the panel helpers (figure_matrix,
figure_pair, heatmap_rows) of the first run, so every seed shows the same one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from specdyn.figures.panels import (
    diagonal_panel,
    figure_matrix,
    figure_pair,
    grid_panel,
    heatmap_rows,
)
from specdyn.store.reader import Run


def band(
    ax: Axes, x: np.ndarray, values: np.ndarray, label: str, log: bool = False, **style: Any
) -> None:
    """values (S, T): the mean line over S seeds and, with S > 1, a +- std band. With
    ``log`` (a log-scale axis) both are taken of log10(values): the geometric mean and a
    band of one geometric std, which stays above 0 where an arithmetic one would not."""
    data = np.log10(np.clip(values, 1e-30, None)) if log else values
    mean = data.mean(axis=0)
    (line,) = ax.plot(x, 10**mean if log else mean, label=label, **style)
    if len(values) > 1:
        std = data.std(axis=0, ddof=1)
        low, high = (10 ** (mean - std), 10 ** (mean + std)) if log else (mean - std, mean + std)
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.25, lw=0)


def history_series(runs: Sequence[Run], split: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps (T,), values (S, T)) of one history column over seeds, on common steps."""
    frames = [r.history[r.history["split"] == split].set_index("step")[column] for r in runs]
    table = pd.concat(frames, axis=1, join="inner")
    return table.index.to_numpy(), table.to_numpy(dtype=float).T


def _splits(runs: Sequence[Run]) -> list[str]:
    return list(dict.fromkeys(runs[0].history["split"]))


def _seeds(runs: Sequence[Run]) -> str:
    """Panel titles stay short; the figure's title says how many seeds each row averages."""
    return ""


def error_panel(ax: Axes, runs: Sequence[Run], splits: Sequence[str] = ()) -> None:
    """Error of each split over steps, mean +- std over seeds."""
    label = runs[0].config.get("figures", {}).get("error_label") or "error"
    for split in splits or _splits(runs):
        steps, values = history_series(runs, split, "error")
        band(ax, steps, values, f"{split}")
    title = f"{', '.join(splits)} {label}" if splits else label[:1].upper() + label[1:]
    ax.set(xlabel="step", ylabel=label, title=title)
    ax.legend(loc="best", fontsize="small")


def loss_panel(ax: Axes, runs: Sequence[Run], split: str = "train", label: str = "") -> None:
    """Loss over steps on a log axis: the geometric mean over seeds, +- one geometric std."""
    steps, values = history_series(runs, split, "loss")
    band(ax, steps, values, label or split, log=True)
    ax.set(xlabel="step", ylabel=f"{split} loss", yscale="log", title=f"{split} loss")


def singular_values_panel(ax: Axes, runs: Sequence[Run]) -> None:
    """Every singular value of the figure matrix over steps, mean over seeds."""
    matrix = figure_matrix(runs[0])
    series = [r.singular_values(matrix) for r in runs]
    steps, values = series[0][0], np.mean([v for _, v in series], axis=0)  # (T,), (T, r)
    r = values.shape[1]
    colours = ScalarMappable(Normalize(0, max(r - 1, 1)), "viridis")
    cmap = colormaps["viridis"]
    for i in range(r - 1, -1, -1):  # largest drawn last, on top
        ax.plot(steps, values[:, i], color=cmap(i / max(r - 1, 1)), linewidth=0.8)
    ax.figure.colorbar(colours, ax=ax, label="rank index")
    ax.set(xlabel="step", ylabel="singular value", title=f"SVs: {matrix}{_seeds(runs)}")


def metric_grid(runs: Sequence[Run], metric: str, rows: Sequence[str]) -> pd.DataFrame:
    """rows x steps of ``metric``, mean over seeds."""
    grids = []
    for run in runs:
        table = run.metrics[run.metrics["metric"] == metric]
        grids.append(table.pivot(index="matrix", columns="step", values="value").reindex(rows))
    return sum(grids[1:], grids[0]) / len(grids)


def effective_rank_panel(ax: Axes, runs: Sequence[Run]) -> None:
    grid = metric_grid(runs, "normalized_effective_rank", heatmap_rows(runs[0]))
    grid_panel(ax, grid, f"Normalised effective rank{_seeds(runs)}")


def alignment_score_panel(ax: Axes, runs: Sequence[Run]) -> None:
    grid = metric_grid(runs, "alignment", runs[0].pairs)
    grid_panel(ax, grid, f"Alignment score (top-10){_seeds(runs)}")


def agreement_score_panel(ax: Axes, runs: Sequence[Run]) -> None:
    grid = metric_grid(runs, "agreement", heatmap_rows(runs[0]))
    grid_panel(ax, grid, f"Agreement score (top-10){_seeds(runs)}")


def alignment_panel(ax: Axes, runs: Sequence[Run], k: int = 100) -> None:
    """Diagonal of Eq. 3 for the figure pair, mean over seeds."""
    pair = figure_pair(runs[0])
    series = [r.alignment(pair) for r in runs]
    diag = np.mean([d[:, :k] for _, d in series], axis=0)
    diagonal_panel(ax, series[0][0], diag, f"Alignment: {pair}{_seeds(runs)}")


def agreement_panel(ax: Axes, runs: Sequence[Run], k: int = 100) -> None:
    """Diagonal of Eq. 5 (agreement with the final step) for the figure matrix."""
    matrix = figure_matrix(runs[0])
    series = [r.agreement(matrix) for r in runs]
    diag = np.mean([d[:, :k] for _, d in series], axis=0)
    diagonal_panel(ax, series[0][0], diag, f"Agreement: {matrix}{_seeds(runs)}")
