"""One function per panel. Each draws on a matplotlib Axes from a Run; none computes SVDs."""

from __future__ import annotations

import re

from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from specdyn.store.reader import Run

_HEAD_BLOCK = re.compile(r"\.h\d+$")


def figure_matrix(run: Run) -> str:
    """The matrix single-matrix panels show: the task's choice, else the first recorded."""
    chosen = run.config.get("figures", {}).get("matrix")
    return chosen if chosen in run.matrices else run.matrices[0]


def figure_pair(run: Run) -> str:
    chosen = run.config.get("figures", {}).get("pair")
    return chosen if chosen in run.pairs else run.pairs[0]


def error_panel(ax: Axes, run: Run) -> None:
    """Train and validation error over steps (Fig. 2a)."""
    for split, rows in run.history.groupby("split", sort=False):
        ax.plot(rows["step"], rows["error"], label=split)
    ax.set(xlabel="step", ylabel="error", ylim=(-0.02, 1.02), title="Error")
    ax.legend(loc="best", fontsize="small")


def singular_values_panel(ax: Axes, run: Run, matrix: str | None = None) -> None:
    """Every singular value of one matrix over steps, coloured by rank (Fig. 2b)."""
    matrix = matrix or figure_matrix(run)
    steps, values = run.singular_values(matrix)  # (T,), (T, r)
    r = values.shape[1]
    colours = ScalarMappable(Normalize(0, max(r - 1, 1)), "viridis")
    for i in range(r - 1, -1, -1):  # largest drawn last, on top
        ax.plot(steps, values[:, i], color=colours.to_rgba(i), linewidth=0.8)
    ax.figure.colorbar(colours, ax=ax, label="rank index")
    ax.set(xlabel="step", ylabel="singular value", title=f"SV evolution: {matrix}")


def heatmap_panel(
    ax: Axes, run: Run, metric: str, rows: list[str], title: str, vrange=(None, None)
) -> None:
    """``metric`` as a heatmap: ``rows`` (top to bottom, by depth) against steps."""
    table = run.metrics[run.metrics["metric"] == metric]
    grid = table.pivot(index="matrix", columns="step", values="value").reindex(rows)
    steps = grid.columns.to_numpy()
    image = ax.imshow(
        grid.to_numpy(dtype=float),
        aspect="auto",
        interpolation="nearest",
        cmap="magma",
        vmin=vrange[0],
        vmax=vrange[1],
        extent=(steps[0], steps[-1], len(rows) - 0.5, -0.5),
    )
    ax.set_yticks(range(len(rows)), rows, fontsize="x-small")
    ax.figure.colorbar(image, ax=ax)
    ax.set(xlabel="step", title=title)


def effective_rank_panel(ax: Axes, run: Run) -> None:
    """Normalised effective rank (Eq. 2), matrices by depth against steps (Fig. 2c)."""
    rows = [m for m in run.matrices if not _HEAD_BLOCK.search(m)]
    title = "Normalised effective rank"
    heatmap_panel(ax, run, "normalized_effective_rank", rows, title, vrange=(0.0, 1.0))


def alignment_score_panel(ax: Axes, run: Run) -> None:
    """Alignment score (Eq. 4) of every pair against steps."""
    heatmap_panel(ax, run, "alignment", run.pairs, "Alignment score (top-10)", (0.0, 1.0))


def alignment_panel(ax: Axes, run: Run, pair: str | None = None, k: int = 100) -> None:
    """Diagonal of the alignment matrix (Eq. 3) of one pair, index i against steps (Fig. 2d)."""
    pair = pair or figure_pair(run)
    steps, diag = run.alignment(pair)  # (T,), (T, k')
    diag = diag[:, :k]
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
    ax.set(xlabel="step", ylabel="index i", title=f"Alignment: {pair}")


__all__ = [
    "alignment_panel",
    "alignment_score_panel",
    "effective_rank_panel",
    "error_panel",
    "figure_matrix",
    "figure_pair",
    "heatmap_panel",
    "singular_values_panel",
]
