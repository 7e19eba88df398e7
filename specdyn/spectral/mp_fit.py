"""WeightWatcher's spike count: ``num_spikes`` of ``WeightWatcher.analyze(mp_fit=True)``.

WeightWatcher 0.7.7 (``weightwatcher.mp_fit``, ``RMT_Util.fit_density_with_range``)
rescales the ESD of an (N, M) matrix (N >= M, Q = N / M) to mean 1, estimates its
density with a linear-kernel KDE of bandwidth 0.1 on 1,000 points, fits the noise level
sigma of a Marchenko-Pastur law (a quarter circle of the singular values when Q = 1) to
it by a grid search polished with Nelder-Mead (``scipy.optimize.brute``), and counts the
eigenvalues above the bulk edge (sigma (1 + 1/sqrt(Q)))^2 plus the square root of its
Tracy-Widom term. This module computes the same steps on the singular values, so the
count equals WeightWatcher's; its quirks are kept (the quarter circle ignores sigma
inside the root; a sigma whose bulk misses the density's peak is penalised).

specdyn's own estimator, ``powerlaw.mp_outliers`` (median noise level and a Tracy-Widom
99% margin), is another number: equal on clean planted spikes, far apart on heavy-tailed
spectra, where the KDE fit chases the tail.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from torch import Tensor

BANDWIDTH = 0.1  # of the linear-kernel density estimate
GRID_POINTS = 1000
DENSITY_FLOOR = 0.01  # density values below are left out of the fit (as WeightWatcher)
PENALTY = 1000.0  # residual of a sigma whose bulk misses the density's peak


def num_spikes(s: Tensor, shape: tuple[int, int]) -> int:
    """WeightWatcher 0.7.7's ``num_spikes`` of an (m, n) matrix with singular values s
    (all r = min(m, n) of them)."""
    from scipy import optimize  # scipy: only this fit needs it

    big, small = max(shape), min(shape)
    if s.shape[-1] != small:
        raise ValueError(f"{s.shape[-1]} singular values for a {shape[0]}x{shape[1]} matrix")
    evals = s.detach().double().square().cpu().numpy()
    if float(evals.sum()) <= 0:
        raise ValueError("num_spikes of an all-zero matrix is undefined")
    Q = big / small
    scaled = evals * (small / evals.sum())  # WeightWatcher's rescale: mean eigenvalue 1
    top = float(np.sqrt(scaled.max() / (1 + 1 / math.sqrt(Q)) ** 2))
    grid = (slice(0.05 * top, 2.0 * top, 0.01 * top),)
    residual = _residual(np.sqrt(scaled) if Q == 1 else scaled, Q)
    with warnings.catch_warnings():  # Nelder-Mead's "did not converge" is WeightWatcher's too
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma = float(np.ravel(optimize.brute(residual, grid, full_output=True)[0])[0])
    bulk_max = (sigma * (1 + 1 / math.sqrt(Q))) ** 2
    tracy_widom = 1 / math.sqrt(Q) * bulk_max ** (2 / 3) * small ** (-2 / 3)
    return int((scaled > bulk_max + math.sqrt(tracy_widom)).sum())


def _density(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(grid, density) where the linear-kernel KDE of x exceeds DENSITY_FLOOR, and how many
    grid points it was below (sklearn's ``KernelDensity(kernel="linear")``, exactly)."""
    grid = np.linspace(0, np.max(x) + 0.5, GRID_POINTS)
    kernel = np.clip(1 - np.abs(grid[:, None] - x[None, :]) / BANDWIDTH, 0, None)
    density = kernel.sum(1) / (len(x) * BANDWIDTH)
    good = density > DENSITY_FLOOR
    return grid[good], density[good], int((density < DENSITY_FLOOR).sum())


def _residual(x: np.ndarray, Q: float) -> Callable[[np.ndarray], float]:
    """sigma -> sum of squared differences between the fitted law and the density."""
    xde, yde, _ = _density(x)
    peak = xde[np.where(yde == yde.max())][0]

    def residual(p: np.ndarray) -> float:
        sigma = np.asarray(p, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if Q == 1:
                law = np.nan_to_num((1 / (np.pi * sigma * sigma)) * np.sqrt(4 - xde**2))
                return float(np.sum((law - yde) ** 2))
            b = (sigma * (1 + np.sqrt(1 / Q))) ** 2
            a = (sigma * (1 - np.sqrt(1 / Q))) ** 2
            if bool(((b < peak) | (b > xde.max()) | (a > peak)).any()):
                return float(len(yde) * PENALTY**2)
            law = (1 / (2 * np.pi * sigma * sigma * xde / Q)) * np.sqrt((b - xde) * (xde - a))
            return float(np.sum((np.nan_to_num(law) - yde) ** 2))

    return residual
