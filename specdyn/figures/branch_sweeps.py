"""The experiments on checkpoints across a sweep's runs (``specdyn reproduce`` 4, 10-13,
14-pruned): the tables the analyses wrote, stacked over the sweep's points, and the figures
drawn from them. Nothing here trains, evaluates or decomposes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from specdyn.figures.analyses import PRUNE_STYLE, lmc_figure, lottery_figure, prune_figure
from specdyn.figures.plot import save
from specdyn.store import layout
from specdyn.store.reader import Run, open_run
from specdyn.sweep.results import Sweep


def prune_table(sweep: Sweep, fraction: float = 0.5) -> pd.DataFrame:
    """Every finished point's prune table at ``fraction``, with its grid values and seed."""
    parts = []
    for values, seed, run in sweep.runs():
        table = run.analysis("prune")
        table = table[table["fraction"] == fraction].copy()
        for key, value in [*values.items(), ("seed", seed)]:
            table[key] = value
        parts.append(table)
    if not parts:
        raise ValueError(f"no run of '{sweep.path}' has a prune table")
    return pd.concat(parts, ignore_index=True)


def lottery_pairs(sweep: Sweep) -> list[tuple[Run, dict[str, Run]]]:
    """(trunk, {"magnitude": branch, "random": branch}) of every trunk with both analysed."""
    from specdyn.analyses.branching import read_spec

    out = []
    for _, _, trunk in sweep.runs():
        found = {}
        for path in sorted((trunk.path / layout.BRANCHES).glob("lottery-*")):
            if (path / layout.ANALYSES / "lottery").is_dir():
                found[read_spec(path).mask] = open_run(path)
        if {"magnitude", "random"} <= set(found):
            out.append((trunk, found))
    return out


def lmc_tables(sweep: Sweep) -> dict[str, pd.DataFrame]:
    from specdyn.analyses.lmc import read_tables

    return read_tables(sweep.path)


def draw_prune(sweep: Sweep, figure: str, out_path: Path) -> Path:
    """Figure 4: one column per seed (train loss above, validation loss below)."""
    return prune_figure([run for _, _, run in sweep.runs()], out_path)


def draw_lottery(sweep: Sweep, out_path: Path, matrix: str = "") -> Path:
    """Figure 10 of the first trunk: its magnitude branch above, its random branch below."""
    pairs = lottery_pairs(sweep)
    if not pairs:
        raise ValueError(f"no trunk of '{sweep.path}' has both lottery branches")
    trunk, branches = pairs[0]
    return lottery_figure(trunk, [branches["magnitude"], branches["random"]], out_path, matrix)


def draw_lmc_kind(kind: str) -> Callable[[Sweep, str, Path], Path]:
    """Figure 11 ("same"), 12 ("cross") or 13 ("perturb") from the sweep's LMC tables."""

    def draw(sweep: Sweep, figure: str, out_path: Path) -> Path:
        tables = lmc_tables(sweep)
        if kind not in set(tables["barrier"]["kind"]):
            raise ValueError(f"'{sweep.path}' has no evaluated {kind} pair")
        _, _, trunk = next(iter(sweep.runs()))
        matrix = trunk.config.get("figures", {}).get("matrix", "")
        return lmc_figure(tables, kind, matrix, out_path)

    return draw


def draw_pruned_wd(sweep: Sweep, figure: str, out_path: Path) -> Path:
    """Figure 14's pruned curves: final train and validation loss and error of the full,
    top-half and bottom-half models against weight decay (mean +- std over seeds)."""
    key = sweep.grid_keys[0]
    table = prune_table(sweep)
    final = table[table["step"] == table.groupby("seed")["step"].transform("max")]
    fig = Figure(figsize=(18, 4.2), layout="constrained")
    order = sweep.grid_values(key)
    x = np.arange(len(order))
    panels = [
        (s, m) for s in ("train", "val") if s in set(final["split"]) for m in ("loss", "error")
    ]
    for ax, (split, metric) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels,
                                   strict=True):  # fmt: skip
        for variant, (colour, label) in PRUNE_STYLE.items():
            rows = final[(final["split"] == split) & (final["variant"] == variant)]
            stats = rows.groupby(key)[metric].agg(["mean", "std"]).reindex(order).fillna(0.0)
            ax.errorbar(x, stats["mean"], stats["std"], fmt="o-", capsize=3, color=colour,
                        label=label)  # fmt: skip
        ax.set_xticks(x, [str(v) for v in order])
        ax.set(xlabel=key, ylabel=f"final {split} {metric}", title=f"final {split} {metric}")
        if metric == "loss":
            ax.set_yscale("log")
    ax.legend(fontsize="small")
    fig.suptitle(f"Figure 14, pruned: full vs half-SVD pruned models -- {sweep.task}")
    return save(fig, out_path)
