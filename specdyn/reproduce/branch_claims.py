"""The paper's claims about the experiments on checkpoints (Figures 4, 10-13, 14's pruned
curves), checked on a sweep whose runs carry their prune tables, lottery branches or LMC
tables. Every number is a mean over the sweep's seeds (trunks) and pairs. Thresholds are
fixed here, before any run, and are part of each claim's text."""

from __future__ import annotations

import numpy as np
import pandas as pd

from specdyn.figures.branch_sweeps import lmc_tables, lottery_pairs, prune_table
from specdyn.figures.sweeps import eval_split
from specdyn.reproduce.claims import Claim, versus
from specdyn.sweep.results import Sweep

TOP_TOLERANCE = 0.05  # Figure 4: "top half ~ full": within 5 points of error
BOTTOM_GAP = 0.2  # Figure 4: "bottom half far worse": at least 20 points of error more
CROSS_BARRIER = 0.1  # Figure 12: "high barrier": the midpoint loses >= 10 points of error
LOW_AGREEMENT = 0.5  # Figure 12: "low agreement": top-10 agreement below one half
NEAR_ZERO = 0.02  # Figure 11: "barrier ~ 0": an error barrier of at most 2 points


def _fmt(values: dict) -> str:
    return ", ".join(f"{k}: {v:.3f}" for k, v in values.items())


# Figure 4 -------------------------------------------------------------------------------
def _prune_errors(sweep: Sweep, at: str) -> dict[str, float]:
    """variant -> eval-split error at the first or last checkpoint, mean over seeds."""
    table = prune_table(sweep)
    table = table[table["split"] == eval_split(sweep)]
    pick = table.groupby("seed")["step"].transform("max" if at == "last" else "min")
    rows = table[table["step"] == pick]
    return {v: float(rows[rows["variant"] == v]["error"].mean()) for v in ("full", "top", "bottom")}


def top_half_keeps(sweep: Sweep) -> Claim:
    e = _prune_errors(sweep, "last")
    return Claim(
        "the model with only the top half of every matrix's SVD performs like the full model",
        f"final {eval_split(sweep)} error: {_fmt(e)} (need |top - full| <= {TOP_TOLERANCE})",
        abs(e["top"] - e["full"]) <= TOP_TOLERANCE,
        {"final_error": e},
    )


def bottom_half_loses(sweep: Sweep) -> Claim:
    e = _prune_errors(sweep, "last")
    return Claim(
        "the model with only the bottom half performs far worse",
        f"final {eval_split(sweep)} error: bottom {e['bottom']:.3f} vs full {e['full']:.3f} "
        f"(need a gap >= {BOTTOM_GAP})",
        e["bottom"] - e["full"] >= BOTTOM_GAP,
        {"final_error": e},
    )


def pruning_gap_grows(sweep: Sweep) -> Claim:
    first, last = _prune_errors(sweep, "first"), _prune_errors(sweep, "last")
    g0, g1 = first["bottom"] - first["top"], last["bottom"] - last["top"]
    return Claim(
        "the gap between top-half and bottom-half models appears over training",
        f"bottom - top error: {g0:.3f} at the first checkpoint, {g1:.3f} at the last "
        f"(need growth >= {BOTTOM_GAP})",
        g1 - g0 >= BOTTOM_GAP,
        {"first_gap": g0, "last_gap": g1},
    )


# Figure 10 ------------------------------------------------------------------------------
def _lottery(sweep: Sweep) -> dict[str, dict[str, float]]:
    """mask -> {final train loss, pruned_final and trajectory top-10 agreement}, mean over
    trunks (agreement: over matrices, and over steps for the trajectory)."""
    rows: dict[str, list[dict[str, float]]] = {"magnitude": [], "random": []}
    for _, branches in lottery_pairs(sweep):
        for mask, run in branches.items():
            train = run.history[run.history["split"] == "train"].sort_values("step")
            agree = run.analysis("lottery", "agreement")
            top = agree[agree["index"] < 10]
            rows[mask].append(
                {
                    "train_loss": float(train["loss"].iloc[-1]),
                    "final_agreement": _mean(top[top["quantity"] == "pruned_final"]),
                    "trajectory_agreement": _mean(top[top["quantity"] == "trajectory"]),
                }
            )
    if not rows["magnitude"]:
        raise ValueError(f"no trunk of '{sweep.path}' has both lottery branches")
    return {m: pd.DataFrame(r).mean().to_dict() for m, r in rows.items()}


def _mean(table: pd.DataFrame) -> float:
    return float(table.groupby(["matrix", "step"])["value"].mean().mean())


def _compare(sweep: Sweep, key: str, statement: str, lower: bool) -> Claim:
    values = {m: v[key] for m, v in _lottery(sweep).items()}
    ok = values["magnitude"] < values["random"] if lower else values["magnitude"] > values["random"]
    return Claim(statement, f"{key.replace('_', ' ')}: {_fmt(values)}", ok, {key: values})


def magnitude_trains_better(sweep: Sweep) -> Claim:
    return _compare(sweep, "train_loss", "a magnitude mask trains to a lower loss than a "
                    "random mask of the same layerwise density", lower=True)  # fmt: skip


def magnitude_keeps_final(sweep: Sweep) -> Claim:
    return _compare(sweep, "final_agreement", "magnitude pruning keeps the final weights' top "
                    "singular vectors (top-10 agreement, masked vs unmasked) better than "
                    "random pruning", lower=False)  # fmt: skip


def magnitude_keeps_trajectory(sweep: Sweep) -> Claim:
    return _compare(sweep, "trajectory_agreement", "the magnitude-masked run's top singular "
                    "vectors follow the unmasked run's along training; the random one's do "
                    "not as much", lower=False)  # fmt: skip


# Figures 11-13 --------------------------------------------------------------------------
def _by(sweep: Sweep, kind: str, x: str) -> tuple[dict, dict, dict]:
    """x value -> (loss barrier, error barrier, top-10 agreement), means over pairs."""
    tables, split = lmc_tables(sweep), eval_split(sweep)
    b = tables["barrier"]
    b = b[(b["kind"] == kind) & (b["split"] == split)]
    loss = b[b["metric"] == "loss"].groupby(x)["value"].mean().to_dict()
    error = b[b["metric"] == "error"].groupby(x)["value"].mean().to_dict()
    a = tables["agreement"]
    a = a[(a["kind"] == kind) & (a["index"] < 10)]
    agreement = a.groupby([x, "matrix"])["value"].mean().groupby(x).mean().to_dict()
    if not loss:
        raise ValueError(f"'{sweep.path}' has no evaluated {kind} pair")
    return loss, error, agreement


def _random_agreement(sweep: Sweep, kind: str) -> float:
    """The top-10 agreement of independent random singular vectors, averaged over the
    matrices the LMC agreement table holds (their shapes from the sweep's first run)."""
    run = next(run for _, _, run in sweep.runs())
    a = lmc_tables(sweep)["agreement"]
    matrices = sorted(set(a.loc[a["kind"] == kind, "matrix"]))
    return float(np.mean([run.baseline("agreement", m).mean for m in matrices]))


def _agreement_versus(agreement: dict, random: float) -> str:
    return "; ".join(f"{k:g}: {versus(v, random)}" for k, v in agreement.items())


def barrier_falls(sweep: Sweep) -> Claim:
    loss, error, _ = _by(sweep, "same", "step")
    first, last = min(loss), max(loss)
    return Claim(
        "the barrier between branches of one trunk falls to ~0 as the split step grows",
        f"{eval_split(sweep)} loss barrier by split: {_fmt(loss)}; error barrier: "
        f"{_fmt(error)} (need first > last, last error barrier <= {NEAR_ZERO})",
        loss[first] > loss[last] and error[last] <= NEAR_ZERO,
        {"loss_barrier": loss, "error_barrier": error},
    )


def agreement_rises(sweep: Sweep) -> Claim:
    _, _, agreement = _by(sweep, "same", "step")
    first, last = min(agreement), max(agreement)
    return Claim(
        "top singular vector agreement between the endpoints rises with the split step",
        f"top-10 agreement by split: {_fmt(agreement)}",
        agreement[last] > agreement[first],
        {"agreement": agreement},
        _agreement_versus(agreement, _random_agreement(sweep, "same")),
    )


def cross_barrier_high(sweep: Sweep) -> Claim:
    loss, error, _ = _by(sweep, "cross", "step")
    return Claim(
        "branches of different trunks have a high barrier at every split",
        f"{eval_split(sweep)} error barrier by split: {_fmt(error)}; loss barrier: "
        f"{_fmt(loss)} (need every error barrier >= {CROSS_BARRIER})",
        min(error.values()) >= CROSS_BARRIER,
        {"loss_barrier": loss, "error_barrier": error},
    )


def cross_agreement_low(sweep: Sweep) -> Claim:
    _, _, agreement = _by(sweep, "cross", "step")
    return Claim(
        "branches of different trunks have low top singular vector agreement at every split",
        f"top-10 agreement by split: {_fmt(agreement)} (need every one < {LOW_AGREEMENT})",
        max(agreement.values()) < LOW_AGREEMENT,
        {"agreement": agreement},
        _agreement_versus(agreement, _random_agreement(sweep, "cross")),
    )


def perturb_barrier_rises(sweep: Sweep) -> Claim:
    loss, error, _ = _by(sweep, "perturb", "eta")
    small, big = min(loss), max(loss)
    return Claim(
        "the barrier rises with the size eta of the perturbation",
        f"{eval_split(sweep)} loss barrier by eta: {_fmt(loss)}; error barrier: {_fmt(error)} "
        f"(need the largest eta's loss barrier above eta={small:g}'s)",
        loss[big] > loss[small],
        {"loss_barrier": loss, "error_barrier": error},
    )


def perturb_agreement_falls(sweep: Sweep) -> Claim:
    _, _, agreement = _by(sweep, "perturb", "eta")
    small, big = min(agreement), max(agreement)
    return Claim(
        "top singular vector agreement falls with the size eta of the perturbation",
        f"top-10 agreement by eta: {_fmt(agreement)}",
        agreement[big] < agreement[small],
        {"agreement": agreement},
        _agreement_versus(agreement, _random_agreement(sweep, "perturb")),
    )


# Figure 14, pruned ----------------------------------------------------------------------
def pruned_gap_closes(sweep: Sweep) -> Claim:
    key = sweep.grid_keys[0]
    table = prune_table(sweep)
    final = table[(table["step"] == table.groupby(["seed", key])["step"].transform("max"))
                  & (table["split"] == "train")]  # fmt: skip
    loss = final.groupby([key, "variant"])["loss"].mean().unstack("variant")
    gap = (loss["top"] - loss["full"]).abs().reindex(sweep.grid_values(key)).to_dict()
    values = list(gap.values())
    return Claim(
        "with more weight decay, the top-half pruned model's training loss gets closer to "
        "the full model's",
        f"final train loss, |top half - full|: {_fmt(gap)} (need the largest weight decay's "
        "gap below the first's)",
        values[-1] < values[0],
        {"gap": gap},
    )
