"""One function per panel. Each draws on a matplotlib Axes from a Run; none computes SVDs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from specdyn.errors import RunStoreError
from specdyn.figures.choices import error_label, figure_choices
from specdyn.figures.reference import edge_line
from specdyn.store import layout
from specdyn.store.reader import Run

_HEAD_BLOCK = re.compile(r"\.h\d+$")


def figure_matrix(run: Run) -> str:
    """The matrix single-matrix panels show: the task's choice, else the first recorded."""
    chosen = figure_choices(run.config)["matrix"]
    return chosen if chosen in run.matrices else _first(run.matrices, run, "matrix")


def figure_pair(run: Run) -> str:
    """The pair of the alignment panel: the task's choice, else the first recorded."""
    chosen = figure_choices(run.config)["pair"]
    return chosen if chosen in run.pairs else _first(run.pairs, run, "alignment pair")


def _first(names: list[str], run: Run, what: str) -> str:
    if not names:
        folder = run.path / layout.SPECTRA
        raise RunStoreError(f"run '{run.path}' has no recorded {what}: no spectra in '{folder}'")
    return names[0]


def note_panel(ax: Axes, title: str, note: str) -> None:
    """An empty panel that says why it is empty (e.g. a checkpoint analysis has no history)."""
    ax.text(0.5, 0.5, note, ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set(title=title, xticks=[], yticks=[])


NO_PAIRS = "no alignment pairs recorded\n(no pairs were given, or values only)"


def no_history(run: Run) -> str:
    """Why a run has no losses to draw, in words that fit what made it."""
    if "checkpoints" in run.config:
        return "no training history:\na checkpoint analysis reads weights only"
    if not run.config.get("task"):
        return "no training history:\nthe Recorder records spectra;\nlog losses in your loop"
    return "no evaluation recorded yet"


def error_panel(ax: Axes, run: Run) -> None:
    """Error of every split over steps (Fig. 2a); extra rates (e.g. WER) dashed."""
    if run.history.empty:
        return note_panel(ax, "Error", no_history(run))
    extra = [c for c in run.history.columns if c not in ("step", "split", "loss", "error")]
    label = error_label(run.config)
    for split, rows in run.history.groupby("split", sort=False):
        (line,) = ax.plot(rows["step"], rows["error"], label=f"{split} {label}")
        for column in extra:
            ax.plot(
                rows["step"], rows[column], "--", color=line.get_color(), label=f"{split} {column}"
            )
    ax.set(xlabel="step", ylabel=label, title=label[:1].upper() + label[1:])
    ax.legend(loc="best", fontsize="small")


def loss_panel(ax: Axes, run: Run) -> None:
    """Loss of every split over steps, log scale."""
    if run.history.empty:
        return note_panel(ax, "Loss", no_history(run))
    for split, rows in run.history.groupby("split", sort=False):
        ax.plot(rows["step"], rows["loss"], label=split)
    ax.set(xlabel="step", ylabel="loss", yscale="log", title="Loss")
    ax.legend(loc="best", fontsize="small")


def samples_panel(ax: Axes, run: Run) -> None:
    """A grid of the images the task kept as ``samples`` (N, C, H, W) in [0, 1]."""
    samples = run.artifacts()["samples"]
    n, c, h, w = samples.shape
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.ones((rows * (h + 1), cols * (w + 1), c), dtype=np.float32)
    for i, image in enumerate(samples):
        r, q = divmod(i, cols)
        grid[r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = image.transpose(
            1, 2, 0
        )
    ax.imshow(grid.squeeze(-1) if c == 1 else grid, cmap="gray", vmin=0.0, vmax=1.0)
    ax.set_axis_off()
    ax.set_title(f"Samples at the end ({n})")


def singular_values_panel(ax: Axes, run: Run, matrix: str | None = None) -> None:
    """Every singular value of one matrix over steps, coloured by rank (Fig. 2b)."""
    matrix = matrix or figure_matrix(run)
    steps, values = run.singular_values(matrix)  # (T,), (T, r)
    r = values.shape[1]
    colours = ScalarMappable(Normalize(0, max(r - 1, 1)), "viridis")
    rgba = colours.to_rgba(np.arange(r))  # (r, 4)
    for i in range(r - 1, -1, -1):  # largest drawn last, on top
        ax.plot(steps, values[:, i], color=rgba[i], linewidth=0.8)
    edge_line(ax, run, matrix, steps, values)
    ax.figure.colorbar(colours, ax=ax, label="rank index")
    ax.set(xlabel="step", ylabel="singular value", title=f"SV evolution: {matrix}")


def heatmap_panel(
    ax: Axes,
    run: Run,
    metric: str,
    rows: list[str],
    title: str,
    vrange: tuple[float | None, float | None] = (None, None),
) -> None:
    """``metric`` as a heatmap: ``rows`` (top to bottom, by depth) against steps."""
    table = run.metrics[run.metrics["metric"] == metric]
    grid = table.pivot(index="matrix", columns="step", values="value").reindex(rows)
    grid_panel(ax, grid, title, vrange)


def grid_panel(
    ax: Axes,
    grid: pd.DataFrame,
    title: str,
    vrange: tuple[float | None, float | None] = (0.0, 1.0),
) -> None:
    """A (rows, steps) table as a heatmap: its index top to bottom against its steps."""
    steps = grid.columns.to_numpy()
    image = ax.imshow(
        grid.to_numpy(dtype=float),
        aspect="auto",
        interpolation="nearest",
        cmap="magma",
        vmin=vrange[0],
        vmax=vrange[1],
        extent=(steps[0], steps[-1], len(grid) - 0.5, -0.5),
    )
    ax.set_yticks(range(len(grid)), list(grid.index), fontsize="x-small")
    ax.figure.colorbar(image, ax=ax)
    ax.set(xlabel="step", title=title)


def heatmap_rows(run: Run) -> list[str]:
    """The matrices of the effective-rank heatmap, by depth: those the task's ``rows``
    pattern matches, else every matrix but per-head blocks."""
    pattern = figure_choices(run.config)["rows"]
    rows = [m for m in run.matrices if re.search(pattern, m)] if pattern else []
    return rows or [m for m in run.matrices if not _HEAD_BLOCK.search(m)]


def effective_rank_panel(ax: Axes, run: Run) -> None:
    """Normalised effective rank (Eq. 2), matrices by depth against steps (Fig. 2c)."""
    rows = heatmap_rows(run)
    title = "Normalised effective rank"
    heatmap_panel(ax, run, "normalized_effective_rank", rows, title, vrange=(0.0, 1.0))


def alignment_score_panel(ax: Axes, run: Run) -> None:
    """Alignment score (Eq. 4) of every pair against steps."""
    if not run.pairs:
        return note_panel(ax, "Alignment score (top-10)", NO_PAIRS)
    heatmap_panel(ax, run, "alignment", run.pairs, "Alignment score (top-10)", (0.0, 1.0))


def metric_panel(ax: Axes, run: Run, metric: str) -> None:
    """Any metric of the table (e.g. a user-defined one), matrices by depth against steps."""
    present = set(run.metrics.loc[run.metrics["metric"] == metric, "matrix"])
    rows = [m for m in [*run.matrices, *run.pairs] if m in present]
    heatmap_panel(ax, run, metric, rows or sorted(present), metric)


def alignment_panel(ax: Axes, run: Run, pair: str | None = None, k: int = 100) -> None:
    """Diagonal of the alignment matrix (Eq. 3) of one pair, index i against steps (Fig. 2d)."""
    if not run.pairs and pair is None:
        return note_panel(ax, "Alignment", NO_PAIRS)
    pair = pair or figure_pair(run)
    steps, diag = run.alignment(pair)  # (T,), (T, k')
    diagonal_panel(ax, steps, diag[:, :k], f"Alignment: {pair}")


def diagonal_panel(ax: Axes, steps: np.ndarray, diag: np.ndarray, title: str) -> None:
    """A diagonal over steps, (T, k) values in [0, 1]: index i against steps."""
    image = ax.imshow(
        diag.T,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        cmap="viridis",
        vmin=0.0,
        vmax=1.0,
        extent=(steps[0], steps[-1], -0.5, diag.shape[1] - 0.5),
    )
    ax.figure.colorbar(image, ax=ax)
    ax.set(xlabel="step", ylabel="index i", title=title)


__all__ = [
    "alignment_panel",
    "alignment_score_panel",
    "diagonal_panel",
    "effective_rank_panel",
    "grid_panel",
    "error_label",
    "error_panel",
    "figure_matrix",
    "figure_pair",
    "heatmap_panel",
    "heatmap_rows",
    "loss_panel",
    "metric_panel",
    "samples_panel",
    "singular_values_panel",
]
