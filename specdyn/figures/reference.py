"""Random-matrix references drawn beside the measured numbers (``Run.baseline``): the
Marchenko-Pastur edge over the singular values, and each matrix's value against the band
that random data of its dimensions gives."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from specdyn.errors import RunStoreError
from specdyn.store.reader import Run

BAND = 2.0  # the band drawn: mean +- BAND std of one random draw


def edge_line(ax: Axes, run: Run, matrix: str, steps: np.ndarray, values: np.ndarray) -> None:
    """The Marchenko-Pastur bulk edge of ``matrix`` at each step (dashed): the largest
    singular value of an i.i.d. matrix of its shape and entry scale. Nothing when the run
    kept no vectors of it (its shape is then unknown)."""
    found = run.shapes.get(matrix)
    if found is None:
        return
    shape = found[0]
    import torch  # the baselines are torch's: imported once a panel is drawn

    from specdyn.spectral.baselines import entry_scale, mp_bulk_edge

    edges = [mp_bulk_edge(shape, entry_scale(torch.from_numpy(v), shape)) for v in values]
    ax.plot(steps, edges, "k--", linewidth=1.2, label="random (MP edge)")
    ax.legend(loc="best", fontsize="small")


def baseline_panel(ax: Axes, run: Run, metric: str, title: str | None = None) -> None:
    """``metric`` of every matrix (or pair) at the first (hollow) and last (filled) step,
    against the band of random data of its dimensions (grey: mean +- 2 std, tick: mean)."""
    table = run.metrics[run.metrics["metric"] == metric]
    if table.empty:
        ax.set(title=title or metric, xticks=[], yticks=[])
        return
    first, last = (run.metric_values(metric, at) for at in ("first", "last"))
    names = [n for n in [*run.matrices, *run.pairs] if n in last] or sorted(last)
    for y, name in enumerate(names):
        try:
            base = run.baseline(metric, name)
        except (RunStoreError, ValueError):  # no shape kept, or NaN on every draw
            base = None
        if base is not None:
            lo, hi = base.mean - BAND * base.std, base.mean + BAND * base.std
            ax.plot([lo, hi], [y, y], color="0.8", linewidth=7, solid_capstyle="butt")
            ax.plot([base.mean], [y], "|", color="0.3", markersize=12)
        ax.plot([first.get(name, np.nan)], [y], "o", mfc="none", color="C0")
        ax.plot([last[name]], [y], "o", color="C0")
    ax.set_yticks(range(len(names)), names, fontsize="x-small")
    ax.invert_yaxis()
    ax.set(xlabel=metric, title=(title or metric) + " vs random (grey: mean +- 2 std)")
