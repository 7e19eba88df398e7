"""Figures of the experiments on checkpoints (Figures 4, 10-13), drawn from the tables the
analyses wrote into run folders; nothing here evaluates a model or decomposes a matrix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from specdyn.figures.plot import save
from specdyn.store import layout
from specdyn.store.reader import Run, open_run

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


def figure_matrix(run: Run, table: pd.DataFrame, preferred: str = "") -> str:
    """``preferred`` if the table has it, else the run's figure matrix, else the first."""
    names = list(dict.fromkeys(table["matrix"]))
    chosen = run.config.get("figures", {}).get("matrix", "")
    for name in (preferred, chosen):
        if name in names:
            return name
    return names[0]


def lottery_row(axes: Sequence[Axes], trunk: Run, branch: Run, matrix: str) -> None:
    """Figure 10's five panels for one branch: (a) training loss, (b) final agreement of the
    masked and unmasked matrix, (c) its top-10 summary across layers, (d) agreement of the
    masked and unmasked trajectories for one matrix, (e) its summary across layers and time."""
    label = branch.path.name.split("-")[1]
    history = branch.history[branch.history["split"] == "train"]
    trunk_train = trunk.history[trunk.history["split"] == "train"]
    axes[0].plot(trunk_train["step"], trunk_train["loss"], "k--", label="unmasked trunk")
    axes[0].plot(history["step"], history["loss"], label=f"{label} mask")
    axes[0].set(xlabel="step", ylabel="train loss", yscale="log", title="(a) training loss")
    axes[0].legend(fontsize="small")
    table = branch.analysis("lottery", "agreement")
    final = table[table["quantity"] == "pruned_final"]
    one = final[final["matrix"] == matrix]
    axes[1].plot(one["index"], one["value"], ".-")
    axes[1].set(xlabel="singular vector", ylabel="agreement", ylim=(0, 1.02))
    axes[1].set_title(f"(b) masked vs unmasked final, {matrix}")
    summary = final[final["index"] < 10].groupby("matrix", sort=False)["value"].mean()
    axes[2].barh(range(len(summary)), summary.values)
    axes[2].set_yticks(range(len(summary)), summary.index, fontsize="x-small")
    axes[2].invert_yaxis()
    axes[2].set(xlabel="top-10 agreement", xlim=(0, 1), title="(c) all layers, final")
    _trajectory_panels(axes[3], axes[4], table[table["quantity"] == "trajectory"], matrix)


def _trajectory_panels(ax_one: Axes, ax_all: Axes, table: pd.DataFrame, matrix: str) -> None:
    one = table[table["matrix"] == matrix].pivot(index="index", columns="step", values="value")
    steps = one.columns.to_numpy()
    image = ax_one.imshow(
        one.to_numpy(),
        aspect="auto",
        origin="lower",
        vmin=0,
        vmax=1,
        cmap="viridis",
        extent=(steps[0], steps[-1], 0, len(one)),
    )
    ax_one.set(xlabel="step", ylabel="singular vector", title=f"(d) masked vs unmasked, {matrix}")
    ax_one.figure.colorbar(image, ax=ax_one)
    top = table[table["index"] < 10].groupby(["matrix", "step"], sort=False)["value"].mean()
    grid = top.unstack("step")
    image = ax_all.imshow(grid.to_numpy(), aspect="auto", vmin=0, vmax=1, cmap="viridis")
    ax_all.set_yticks(range(len(grid)), grid.index, fontsize="x-small")
    ticks = range(0, len(grid.columns), max(1, len(grid.columns) // 5))
    ax_all.set_xticks(list(ticks), [str(grid.columns[i]) for i in ticks])
    ax_all.set(xlabel="step", title="(e) top-10 agreement, all layers")
    ax_all.figure.colorbar(image, ax=ax_all)


def lottery_figure(trunk: Run, branches: Sequence[Run], out_path: Path, matrix: str = "") -> Path:
    """Figure 10: one row per lottery branch (magnitude first)."""
    fig = Figure(figsize=(26, 4.6 * len(branches)), layout="constrained")
    grid = fig.subplots(len(branches), 5, squeeze=False)
    table = branches[0].analysis("lottery", "agreement")
    name = figure_matrix(trunk, table[table["quantity"] == "pruned_final"], matrix)
    for row, branch in enumerate(branches):
        lottery_row(grid[row], trunk, branch, name)
        grid[row, 0].set_ylabel(f"{branch.path.name}\ntrain loss")
    return save(fig, out_path)


LMC_TITLES = {
    "same": "branches of one trunk (Figure 11)",
    "cross": "branches of different trunks (Figure 12)",
    "perturb": "perturbed branches (Figure 13)",
}


def lmc_figure(tables: dict[str, pd.DataFrame], kind: str, matrix: str, out_path: Path) -> Path:
    """Figures 11-13 for one kind of pair: barrier, one matrix's endpoint agreement and the
    top-10 agreement of every matrix, against the split step (or eta for ``perturb``)."""
    x = "eta" if kind == "perturb" else "step"
    fig = Figure(figsize=(7, 12), layout="constrained")
    ax_barrier, ax_one, ax_all = fig.subplots(3, 1)
    barrier = tables["barrier"][tables["barrier"]["kind"] == kind]
    for (split, metric), rows in barrier.groupby(["split", "metric"], sort=False):
        stats = rows.groupby(x)["value"].agg(["mean", "std"]).fillna(0.0)
        style = "-" if metric == "loss" else ":"
        ax_barrier.errorbar(
            stats.index,
            stats["mean"],
            stats["std"],
            fmt="o" + style,
            capsize=3,
            label=f"{split} {metric}",
        )
    ax_barrier.axhline(0, color="k", lw=0.5)
    ax_barrier.set(xlabel=x, ylabel="barrier (Eq. 6)", title=f"Barrier: {LMC_TITLES[kind]}")
    ax_barrier.legend(fontsize="small")
    agreement = tables["agreement"][tables["agreement"]["kind"] == kind]
    names = list(dict.fromkeys(agreement["matrix"]))
    matrix = matrix if matrix in names else names[0]
    one = agreement[agreement["matrix"] == matrix].groupby(["index", x])["value"].mean()
    _heatmap(ax_one, one.unstack(x), x, f"endpoint agreement, {matrix}", "singular vector")
    top = agreement[agreement["index"] < 10].groupby(["matrix", x], sort=False)["value"].mean()
    grid = top.unstack(x).reindex(names)
    _heatmap(ax_all, grid, x, "top-10 endpoint agreement, every matrix", "")
    ax_all.set_yticks(range(len(grid)), grid.index, fontsize="x-small")
    return save(fig, out_path)


def _heatmap(ax: Axes, grid: pd.DataFrame, x: str, title: str, ylabel: str) -> None:
    image = ax.imshow(
        grid.to_numpy(),
        aspect="auto",
        vmin=0,
        vmax=1,
        cmap="viridis",
        origin="upper" if not ylabel else "lower",
        interpolation="nearest",
    )
    ax.set_xticks(range(len(grid.columns)), [f"{c:g}" for c in grid.columns])
    ax.set(xlabel=x, ylabel=ylabel, title=title)
    ax.figure.colorbar(image, ax=ax)


LMC_FILES = {
    "same": "lmc-same-trunk.png",
    "cross": "lmc-cross-trunk.png",
    "perturb": "lmc-perturb.png",
}


def draw_lmc(root: Path) -> list[Path]:
    """Figures 11, 12 and 13 (those a design has pairs for) into ``DESIGN/figures/``."""
    from specdyn.analyses.lmc import read_tables

    tables = read_tables(root)
    trunk = open_run(layout.trunk_folders(root)[0])
    matrix = trunk.config.get("figures", {}).get("matrix", "")
    kinds = [k for k in LMC_FILES if k in set(tables["barrier"]["kind"])]
    return [lmc_figure(tables, k, matrix, root / layout.FIGURES / LMC_FILES[k]) for k in kinds]
