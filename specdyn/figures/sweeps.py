"""The paper's multi-run figures, drawn from a sweep folder (read through open_sweep only).

A figure is a grid of panels: one row per value of the swept key (weight decay, labels),
one column per panel; every panel averages the seeds of its row. Figure 14 is a summary
across the grid instead. ``plot_sweep`` draws the figures that fit the sweep's grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from specdyn.figures import seeds as sp
from specdyn.figures.plot import save, save_all
from specdyn.store.reader import Run
from specdyn.sweep.results import Sweep

SeedPanel = Callable[[Axes, Sequence[Run]], None]


def _train_error(ax: Axes, runs: Sequence[Run]) -> None:
    sp.error_panel(ax, runs, ("train",))


def _val_error(ax: Axes, runs: Sequence[Run]) -> None:
    splits = [s for s in sp._splits(runs) if s != "train"]
    sp.error_panel(ax, runs, splits[:1])


# figure -> (title, its columns): the figures of one row of seed-averaged panels per grid value
_COLUMNS: dict[str, tuple[str, tuple[SeedPanel, ...]]] = {
    "2": (
        "Figure 2: error, SVs, effective rank, alignment",
        (sp.error_panel, sp.singular_values_panel, sp.effective_rank_panel, sp.alignment_panel),
    ),
    "3": (
        "Figure 3: SV evolution and effective rank",
        (sp.singular_values_panel, sp.effective_rank_panel),
    ),
    "5": (
        "Figure 5: alignment of neighbouring layers",
        (sp.alignment_panel, sp.alignment_score_panel),
    ),
    "6": ("Figure 6: SVs and effective rank", (sp.singular_values_panel, sp.effective_rank_panel)),
    "7": ("Figure 7: alignment", (sp.alignment_panel, sp.alignment_score_panel)),
    "8": (
        "Figure 8: train / validation error, SVs, effective rank, alignment",
        (
            _train_error,
            _val_error,
            sp.singular_values_panel,
            sp.effective_rank_panel,
            sp.alignment_panel,
        ),
    ),
    "9": (
        "Figure 9: singular-vector agreement with the final weights",
        (sp.agreement_panel, sp.agreement_score_panel),
    ),
}


def groups(sweep: Sweep, key: str | None = None) -> list[tuple[str, list[Run]]]:
    """(row label, runs of every seed) per value of ``key`` (default: the first grid key;
    a sweep with no grid is one row)."""
    key = key or (sweep.grid_keys[0] if sweep.grid_keys else None)
    rows: dict[Any, list[Run]] = {}
    for values, _, run in sweep.runs():
        rows.setdefault(values.get(key) if key else None, []).append(run)
    order = sweep.grid_values(key) if key else [None]
    return [(f"{key}={v}" if key else "", rows[v]) for v in order if v in rows]


def draw(sweep: Sweep, figure: str, out_path: Path, key: str | None = None) -> Path:
    """Figure ``figure`` ("2", "3", ..., "14") of ``sweep`` as a PNG at ``out_path``."""
    return save(figure_of(sweep, figure, key), out_path)


def figure_of(sweep: Sweep, figure: str, key: str | None = None) -> Figure:
    """Figure ``figure`` ("2", "3", ..., "14") of ``sweep``, drawn, not yet written."""
    if figure not in FIGURES:
        raise ValueError(f"no sweep figure '{figure}'; known: {', '.join(FIGURES)}")
    return FIGURES[figure].draw(sweep, key)


def _panel_figure(figure: str) -> Callable[[Sweep, str | None], Figure]:
    return lambda sweep, key: panel_figure(sweep, *_COLUMNS[figure], key)


def panel_figure(
    sweep: Sweep, title: str, columns: Sequence[SeedPanel], key: str | None = None
) -> Figure:
    """One row of ``columns`` (seed-averaged panels) per value of the grid ``key``."""
    rows = groups(sweep, key)
    if not rows:
        raise ValueError(f"sweep '{sweep.path}' has no finished point to draw")
    fig = Figure(figsize=(6 * len(columns), 3.8 * len(rows)), layout="constrained")
    grid = fig.subplots(len(rows), len(columns), squeeze=False)
    for r, (label, runs) in enumerate(rows):
        for c, panel in enumerate(columns):
            panel(grid[r, c], runs)
        if label:
            grid[r, 0].set_ylabel(f"{label}\n{grid[r, 0].get_ylabel()}")
    seeds = sorted({len(runs) for _, runs in rows})
    fig.suptitle(f"{title} -- {sweep.task}, mean of {'/'.join(map(str, seeds))} seed(s) per row")
    return fig


def final_values(sweep: Sweep, key: str, split: str, column: str) -> dict[Any, np.ndarray]:
    """grid value -> (seeds,) of ``column`` at the last evaluated step of ``split``."""
    out: dict[Any, list[float]] = {}
    for values, _, run in sweep.runs():
        rows = run.history[run.history["split"] == split]
        out.setdefault(values[key], []).append(float(rows.sort_values("step")[column].iloc[-1]))
    return {v: np.array(out[v]) for v in sweep.grid_values(key) if v in out}


def eval_split(sweep: Sweep) -> str:
    """The validation split: "val" when there is one, else the first split but train."""
    _, _, run = next(iter(sweep.runs()))
    splits = list(dict.fromkeys(run.history["split"]))
    return "val" if "val" in splits else next(s for s in splits if s != "train")


def draw_summary(sweep: Sweep, out_path: Path, key: str | None = None) -> Path:
    """Figure 14 (see ``summary_figure``) as a PNG at ``out_path``."""
    return save(summary_figure(sweep, key), out_path)


def summary_figure(sweep: Sweep, key: str | None = None) -> Figure:
    """Figure 14: training loss over time per grid value (mean +- std), and the final
    validation error and loss against the grid value (mean +- std over seeds)."""
    key = key or sweep.grid_keys[0]
    split = eval_split(sweep)
    fig = Figure(figsize=(17, 4.2), layout="constrained")
    loss_ax, err_ax, val_ax = fig.subplots(1, 3)
    for label, runs in groups(sweep, key):
        sp.loss_panel(loss_ax, runs, "train", label)
    loss_ax.legend(fontsize="small")
    for ax, column in ((err_ax, "error"), (val_ax, "loss")):
        finals = final_values(sweep, key, split, column)
        x = np.arange(len(finals))
        means = [v.mean() for v in finals.values()]
        stds = [v.std(ddof=1) if len(v) > 1 else 0.0 for v in finals.values()]
        ax.errorbar(x, means, yerr=stds, marker="o", capsize=4)
        ax.set_xticks(x, [str(v) for v in finals])
        ax.set(xlabel=key, ylabel=f"final {split} {column}", title=f"Final {split} {column}")
    fig.suptitle(f"Figure 14: training loss and final {split} metrics vs {key} -- {sweep.task}")
    return fig


@dataclass(frozen=True)
class SweepFigure:
    """A figure drawn from a sweep. draw(sweep, grid key or None) -> the Figure. fits: the
    first grid keys it is drawn for ("" a sweep of seeds only; "*" a grid no other
    figure names)."""

    draw: Callable[[Sweep, str | None], Figure]
    fits: tuple[str, ...]


_WEIGHT_DECAY = ("weight_decay", "optim.weight_decay")
# A plain dict, filled here: a new sweep figure is its drawing function and one entry (its
# claims and the runs it needs are its reproduce target, specdyn/reproduce/targets.py).
FIGURES: dict[str, SweepFigure] = {
    "2": SweepFigure(_panel_figure("2"), ("*",)),
    "3": SweepFigure(_panel_figure("3"), ("",)),
    "5": SweepFigure(_panel_figure("5"), ("",)),
    "6": SweepFigure(_panel_figure("6"), _WEIGHT_DECAY),
    "7": SweepFigure(_panel_figure("7"), _WEIGHT_DECAY),
    "8": SweepFigure(_panel_figure("8"), ("labels", "data.labels")),
    "9": SweepFigure(_panel_figure("9"), ("",)),
    "14": SweepFigure(summary_figure, (*_WEIGHT_DECAY, "*")),
}


def figures_for(sweep: Sweep) -> list[str]:
    """The figures that fit a sweep, by its first grid key: weight decay -> 6, 7, 14;
    labels -> 8; any other grid -> 2, 14; seeds only -> 3, 5, 9."""
    key = sweep.grid_keys[0] if sweep.grid_keys else ""
    named = [n for n, f in FIGURES.items() if key in f.fits]
    return named or [n for n, f in FIGURES.items() if key and "*" in f.fits]


def plot_sweep(sweep: Sweep, out_dir: Path | None = None) -> list[Path]:
    """Every figure that fits the sweep, as ``figure-N.png`` in ``out_dir`` (default:
    SWEEP/figures); all of them or, on an error, none (see ``save_all``)."""
    out_dir = out_dir or sweep.path / "figures"
    return save_all({out_dir / f"figure-{n}.png": figure_of(sweep, n) for n in figures_for(sweep)})
