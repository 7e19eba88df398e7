"""Single-checkpoint diagnostics as metric rows: heavy-tail and random-matrix metrics of
one matrix, from the singular values its one decomposition already gave
(:mod:`specdyn.spectral.powerlaw`, :mod:`specdyn.spectral.mp_fit`): no second
decomposition, no random state.

Two spike counts, under their own names: ``num_spikes`` is WeightWatcher 0.7.7's (its KDE
Marchenko-Pastur fit, equal to ``WeightWatcher.analyze(mp_fit=True)``); ``mp_outliers`` is
specdyn's (median noise level, Tracy-Widom 99% margin). They agree on clean planted
spikes and can differ by tens on heavy-tailed layers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from specdyn.store import layout

if TYPE_CHECKING:
    from torch import Tensor

    from specdyn.spectral.lowrank import LowRank

DIAGNOSTICS = layout.DIAGNOSTIC_METRICS  # one spelling, in the store that names metrics


def diagnostics(name: str, W: Tensor | LowRank, s: Tensor) -> dict[str, float]:
    """metric -> value for the (m, n) matrix ``W`` with singular values ``s``.

    alpha, alpha_weighted and log_alpha_norm are left out when the power-law fit is
    impossible (fewer than two eigenvalues above 1e-5).
    """
    from specdyn.spectral import mp_fit, powerlaw  # here: `specdyn show` needs no torch

    out = {
        "log_spectral_norm": powerlaw.log_spectral_norm(s),
        "log_norm": powerlaw.log_norm(s),
        "mp_outliers": float(powerlaw.mp_outliers(s, (W.shape[0], W.shape[1]))),
    }
    if float(s.detach().amax()) > 0:  # WeightWatcher's spike count: undefined for zeros
        out["num_spikes"] = float(mp_fit.num_spikes(s, (W.shape[0], W.shape[1])))
    try:
        fit = powerlaw.fit_powerlaw(s)
    except ValueError:
        fit = None
    if fit is not None:
        out["alpha"] = fit.alpha
        out["alpha_weighted"] = powerlaw.alpha_weighted(fit.alpha, s)
        out["log_alpha_norm"] = powerlaw.log_alpha_norm(fit.alpha, s)
    out["rand_distance"] = powerlaw.rand_distance(s, (W.shape[0], W.shape[1]))
    return {k: out[k] for k in DIAGNOSTICS if k in out}


def diagnostic_rows(step: int, name: str, W: Tensor | LowRank, s: Tensor) -> list[dict]:
    """Tidy metric rows (step, matrix, metric, value) of :func:`diagnostics`."""
    return [
        {"step": step, "matrix": name, "metric": metric, "value": value}
        for metric, value in diagnostics(name, W, s).items()
    ]


SUMMARY: tuple[str, ...] = (
    "log_norm",
    "alpha",
    "alpha_weighted",
    "log_alpha_norm",
    "log_spectral_norm",
)
SUMMARY += ("stable_rank", "mp_outliers", "num_spikes", "rand_distance")


def whole_matrices(names: list[str]) -> list[str]:
    """The names that are not blocks of another (q/k/v, heads, gates are left out)."""
    prefixes = {n + "." for n in names}
    return [n for n in names if not any(n.startswith(p) for p in prefixes)]


def model_summary(metrics: pd.DataFrame, matrices: list[str]) -> pd.DataFrame:
    """WeightWatcher's ``get_summary`` per step: the mean of each diagnostic over the whole
    matrices (blocks excluded, so a layer counts once). Index: step; one column per metric
    present in ``metrics`` (a tidy step, matrix, metric, value table)."""
    wholes = set(whole_matrices(matrices))
    rows = metrics[metrics["matrix"].isin(wholes) & metrics["metric"].isin(SUMMARY)]
    if rows.empty:
        return pd.DataFrame()
    table = rows.pivot_table(index="step", columns="metric", values="value", aggfunc="mean")
    return table[[m for m in SUMMARY if m in table.columns]]
