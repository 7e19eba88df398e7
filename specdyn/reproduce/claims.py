"""The paper's qualitative claims, checked on a sweep's stores: each returns a Claim with the
numbers it measured. Every number is a mean over the sweep's seeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specdyn.figures.panels import figure_matrix, figure_pair, heatmap_rows
from specdyn.figures.sweeps import eval_split, final_values, groups
from specdyn.store.reader import Run
from specdyn.sweep.results import Sweep


@dataclass(frozen=True)
class Claim:
    """The paper's statement, what was measured here (text and numbers), and the verdict."""

    statement: str
    measured: str
    passed: bool
    numbers: dict[str, Any] = field(default_factory=dict)
    random: str = ""  # how far the measured numbers lie from random data's (Run.baseline)


def versus(measured: float, random: float) -> str:
    """``measured`` against its random baseline: "0.612 vs random 0.921 (0.309 below)"."""
    gap = measured - random
    return (
        f"{measured:.3f} vs random {random:.3f} ({abs(gap):.3f} {'above' if gap >= 0 else 'below'})"
    )


def _random_mean(runs: Sequence[Run], metric: str, names: Sequence[str]) -> float:
    """The mean over ``names`` of their baselines in the first run (one shape per name:
    every seed has the same)."""
    return float(np.mean([runs[0].baseline(metric, n).mean for n in names]))


def _rank_versus(runs: Sequence[Run], last: dict[str, float]) -> str:
    mean = float(np.mean(list(last.values())))
    random = _random_mean(runs, "normalized_effective_rank", list(last))
    return "final mean normalised effective rank " + versus(mean, random)


def _fmt(values: dict[Any, float]) -> str:
    return ", ".join(f"{k}: {v:.3f}" for k, v in values.items())


def _final_rank(runs: Sequence[Run], rows: Sequence[str] | None = None) -> dict[str, float]:
    """matrix -> final normalised effective rank, mean over seeds."""
    rows = list(rows or heatmap_rows(runs[0]))
    finals = [run.metric_values("normalized_effective_rank") for run in runs]
    return {m: float(np.mean([f[m] for f in finals])) for m in rows}


def _first_rank(runs: Sequence[Run]) -> dict[str, float]:
    firsts = [run.metric_values("normalized_effective_rank", at="first") for run in runs]
    return {m: float(np.mean([f[m] for f in firsts])) for m in heatmap_rows(runs[0])}


def rank_falls(sweep: Sweep, fraction: float = 0.8) -> Claim:
    """Figure 3: effective rank decreases over training in nearly all matrices."""
    runs = groups(sweep)[0][1]
    first, last = _first_rank(runs), _final_rank(runs)
    fell = [m for m in last if last[m] < first[m]]
    share = len(fell) / len(last)
    return Claim(
        "the effective rank of nearly all matrices decreases over training",
        f"{len(fell)} / {len(last)} matrices end lower than they start (need >= {fraction:.0%})",
        share >= fraction,
        {"fell": len(fell), "matrices": len(last), "first": first, "last": last},
        _rank_versus(runs, last),
    )


def rank_decreases_with(sweep: Sweep) -> Claim:
    """Figures 6 / 14: larger weight decay ends at lower effective rank."""
    means = {label: float(np.mean(list(_final_rank(runs).values()))) for label, runs in
             groups(sweep)}  # fmt: skip
    values = list(means.values())
    ok = all(b < a for a, b in zip(values, values[1:], strict=False))
    runs = groups(sweep)[0][1]
    random = _random_mean(runs, "normalized_effective_rank", heatmap_rows(runs[0]))
    return Claim(
        "larger weight decay ends at lower effective rank (mean over matrices)",
        f"final mean normalised effective rank: {_fmt(means)}",
        ok,
        {"final_mean_rank": means},
        "; ".join(f"{label}: {versus(v, random)}" for label, v in means.items()),
    )


def validation_holds(sweep: Sweep, tolerance: float = 0.02) -> Claim:
    """Figures 6 / 14: validation performance is kept until the largest weight decay."""
    key = sweep.grid_keys[0]
    split = eval_split(sweep)
    finals = {k: float(v.mean()) for k, v in final_values(sweep, key, split, "error").items()}
    values = list(finals.values())
    base = values[0]
    ok = all(v <= base + tolerance for v in values[1:-1])
    return Claim(
        f"weight decay keeps {split} performance until its largest value",
        f"final {split} error: {_fmt(finals)} (all but the largest within {tolerance} of "
        f"the first)",
        ok,
        {f"final_{split}_error": finals, "tolerance": tolerance},
    )


def _max_alignment(runs: Sequence[Run]) -> float:
    return float(np.mean([run.metrics[run.metrics["metric"] == "alignment"]["value"].max()
                          for run in runs]))  # fmt: skip


def alignment_grows_with(sweep: Sweep) -> Claim:
    """Figure 7: the maximum alignment is higher with large weight decay."""
    maxima = {label: _max_alignment(runs) for label, runs in groups(sweep)}
    values = list(maxima.values())
    runs = groups(sweep)[0][1]
    random = _random_mean(runs, "alignment", runs[0].pairs)
    return Claim(
        "the maximum alignment between consecutive layers is higher with weight decay",
        f"max alignment score over pairs and steps: {_fmt(maxima)}",
        max(values[1:]) > values[0],
        {"max_alignment": maxima},
        "; ".join(
            f"{label}: {versus(v, random)} (random: mean over pairs)" for label, v in maxima.items()
        ),
    )


def _figure_pair_scores(runs: Sequence[Run]) -> np.ndarray:
    pair = figure_pair(runs[0])
    series = []
    for run in runs:
        table = run.metrics[
            (run.metrics["metric"] == "alignment") & (run.metrics["matrix"] == pair)
        ]
        series.append(table.sort_values("step")["value"].to_numpy())
    return np.mean(series, axis=0)  # (T,)


def alignment_develops(sweep: Sweep) -> Claim:
    """Figure 5: weak alignment of top singular vectors develops after the start, from an
    unaligned (not balanced) initialisation."""
    runs = groups(sweep)[0][1]
    scores = _figure_pair_scores(runs)
    ok = scores.max() > scores[0] and scores[0] < 0.5
    random = _random_mean(runs, "alignment", [figure_pair(runs[0])])
    return Claim(
        "layers start unaligned, then some alignment of top singular vectors develops",
        f"{figure_pair(runs[0])}: score {scores[0]:.3f} at the start, max {scores.max():.3f}",
        bool(ok),
        {"pair": figure_pair(runs[0]), "start": float(scores[0]), "max": float(scores.max())},
        f"start {versus(float(scores[0]), random)}; max {versus(float(scores.max()), random)}",
    )


def top_vectors_settle_first(sweep: Sweep) -> Claim:
    """Figure 9: top singular vectors agree with their final direction earlier."""
    runs = groups(sweep)[0][1]
    matrix = figure_matrix(runs[0])
    diags = np.mean([run.agreement(matrix)[1] for run in runs], axis=0)  # (T, k)
    top, bottom = float(diags[:-1, :10].mean()), float(diags[:-1, -10:].mean())
    random = _random_mean(runs, "agreement", [matrix])
    return Claim(
        "top singular vectors become stable in direction earlier than the bottom ones",
        f"{matrix}: agreement with the final step averaged over time, top-10 {top:.3f} vs "
        f"bottom-10 {bottom:.3f}",
        top > bottom,
        {"matrix": matrix, "top10": top, "bottom10": bottom},
        f"top-10 {versus(top, random)}; bottom-10 {versus(bottom, random)}",
    )


def true_labels_lower_rank(sweep: Sweep) -> Claim:
    """Figure 8: inner layers end at lower effective rank with true than random labels."""
    rows = dict(groups(sweep, "labels"))
    true, rand = rows["labels=true"], rows["labels=random"]
    inner = heatmap_rows(true[0])[1:-1]
    t, r = _final_rank(true, inner), _final_rank(rand, inner)
    return Claim(
        "inner layers end at lower effective rank with true labels than with random labels",
        "final rank true vs random: " + ", ".join(f"{m}: {t[m]:.3f} / {r[m]:.3f}" for m in inner),
        all(t[m] < r[m] for m in inner),
        {"true": t, "random": r},
        "true labels: " + _rank_versus(true, t) + "; random labels: " + _rank_versus(rand, r),
    )


def both_fit_training(sweep: Sweep, threshold: float = 0.05) -> Claim:
    """Figure 8: true and random labels both reach (near) zero training error."""
    finals = {
        k: float(v.mean()) for k, v in final_values(sweep, "labels", "train", "error").items()
    }
    return Claim(
        "both true and random labels reach zero training error",
        f"final train error: {_fmt(finals)} (need <= {threshold})",
        all(v <= threshold for v in finals.values()),
        {"final_train_error": finals},
    )


def weight_decay_groks(sweep: Sweep) -> Claim:
    """Figure 2: with weight decay the network generalises (groks), without it does not as
    well, and its effective rank ends lower."""
    key = sweep.grid_keys[0]
    errors = {k: float(v.mean()) for k, v in final_values(sweep, key, "val", "error").items()}
    ranks = {label: float(np.mean(list(_final_rank(runs).values()))) for label, runs in
             groups(sweep)}  # fmt: skip
    e, r = list(errors.values()), list(ranks.values())
    runs = groups(sweep)[0][1]
    random = _random_mean(runs, "normalized_effective_rank", heatmap_rows(runs[0]))
    return Claim(
        "weight decay brings validation error down (grokking) and effective rank lower",
        f"final val error: {_fmt(errors)}; final mean rank: {_fmt(ranks)}",
        e[-1] < e[0] and r[-1] < r[0],
        {"final_val_error": errors, "final_mean_rank": ranks},
        "; ".join(f"{label}: {versus(v, random)}" for label, v in ranks.items()),
    )
