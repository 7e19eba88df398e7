"""Figures of the experiments on checkpoints (Figures 4, 10-13), drawn from the tables the
analyses wrote into run folders; nothing here evaluates a model or decomposes a matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from specdyn.figures.plot import save
from specdyn.store.reader import Run

# Figure 4's colours: red the full model, blue the top half kept, green the bottom half kept.
PRUNE_STYLE = {
    "full": ("tab:red", "full model"),
    "top": ("tab:blue", "top half kept (bottom pruned)"),
    "bottom": ("tab:green", "bottom half kept (top pruned)"),
}


def prune_panel(ax: Axes, table: pd.DataFrame, split: str, metric: str = "loss") -> None:
    """``metric`` of the full and pruned models on ``split`` over training steps."""
    rows = table[table["split"] == split]
    for variant, (colour, label) in PRUNE_STYLE.items():
        part = rows[rows["variant"] == variant].sort_values("step")
        ax.plot(part["step"], part[metric], "o-", ms=3, color=colour, label=label)
    ax.set(xlabel="step", ylabel=f"{split} {metric}", title=f"{split} {metric}")
    if metric == "loss":
        ax.set_yscale("log")
    ax.legend(loc="best", fontsize="small")


def prune_figure(runs: Sequence[Run], out_path: Path, fraction: float = 0.5) -> Path:
    """Figure 4: one column per run, training loss on top and validation loss below."""
    fig = Figure(figsize=(5 * len(runs), 7.5), layout="constrained")
    grid = fig.subplots(2, len(runs), squeeze=False)
    for col, run in enumerate(runs):
        table = run.analysis("prune")
        table = table[table["fraction"] == fraction]
        splits = [s for s in ("train", "val") if s in set(table["split"])]
        for row, split in enumerate(splits[:2]):
            prune_panel(grid[row, col], table, split)
        grid[0, col].set_title(f"{run.config.get('task')} {run.config.get('preset')}: train loss")
    return save(fig, out_path)
