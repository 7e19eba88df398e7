"""Single-checkpoint diagnostics of a weight matrix: heavy-tail and random-matrix metrics.

Pure functions of the singular values ``s`` of one (m, n) matrix, in float64. The
eigenvalue spectrum (ESD) is that of W^T W: ``lambda = s**2``. The power-law fit follows
WeightWatcher 0.7 (``WW_powerlaw.WWFit``, its default ``pl_package``): eigenvalues above
1e-5, a continuous power law fitted by maximum likelihood for every candidate ``xmin``,
and the ``xmin`` whose fit has the smallest Kolmogorov-Smirnov distance kept; spectra of
fewer than 20 eigenvalues use its small-sample variant (bias-corrected estimate, tails of
at least 8), and the value reported is the one WeightWatcher 0.7.7 reports: the candidate
of the smallest KS distance (its ``D - 0.868 / sqrt(n)`` objective is computed but then
overwritten). The search over ``xmin`` is vectorised.

    alpha                 the power-law exponent of the ESD's tail
    alpha_weighted        alpha * log10(lambda_max)
    log_spectral_norm     log10(lambda_max) = 2 log10(s_max)
    log_norm              log10(sum lambda) = 2 log10(||W||_F)
    log_alpha_norm        log10(sum lambda**alpha)
    mp_outliers           singular values above the Marchenko-Pastur bulk edge
    rand_distance         Jensen-Shannon distance between the ESD and that of a random
                          matrix with W's entries (WeightWatcher's ``rand_distance``, with
                          Marchenko-Pastur quantiles in place of a shuffled copy's SVD)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

EVALS_THRESH = 1e-5  # WeightWatcher's EVALS_THRESH: eigenvalues below are dropped
SMALL_N = 20  # WeightWatcher's SMALL_N_CUTOFF
SMALL_N_MIN_TAIL = 8
TW99 = 2.02  # 99th percentile of the Tracy-Widom (beta = 1) law
_CHUNK = 2**22  # entries of the (xmin, x) grid evaluated at once


@dataclass(frozen=True)
class PowerLawFit:
    """alpha: exponent; xmin: start of the fitted tail; D: its KS distance;
    sigma: (alpha - 1) / sqrt(n_tail); n_tail: eigenvalues in the tail."""

    alpha: float
    xmin: float
    D: float
    sigma: float
    n_tail: int


def eigenvalues(s: Tensor) -> Tensor:
    """The ESD of W^T W, ascending, float64. s: (r,) -> (r,)."""
    return torch.sort(s.detach().double().square()).values


def fit_powerlaw(s: Tensor) -> PowerLawFit:
    """Fit a power law to the tail of the ESD of W^T W; alpha is WeightWatcher 0.7.7's
    reported value at every size (its ``analyze()['alpha']``).

    s: (r,) singular values. Raises ValueError when fewer than two eigenvalues exceed
    1e-5 (WeightWatcher reports such layers as failed fits).
    """
    x = eigenvalues(s)
    x = x[x > EVALS_THRESH]
    if x.numel() < 2:
        raise ValueError(
            f"power-law fit needs >= 2 eigenvalues above {EVALS_THRESH}, got {x.numel()}"
        )
    if x.numel() < SMALL_N:
        return _fit_small(x)
    logx = x.log()
    n = torch.arange(x.numel(), 0, -1, dtype=x.dtype)[:-1]  # tail sizes for xmin = x[i]
    tail_log = logx.flip(0).cumsum(0).flip(0)[:-1]  # sum_{j>=i} log x_j
    alphas = 1 + n / (tail_log - n * logx[:-1])
    D = _ks_distances(logx, alphas, correction=0.0)
    i = int(torch.argmin(D))
    return _result(x, alphas, D, i)


def _fit_small(x: Tensor) -> PowerLawFit:
    """WeightWatcher 0.7.7's small-N fit, as it reports it: bias-corrected alphas
    1 + (n - 1) / sum log(x / xmin) on tails of >= 8, then the candidate of the smallest KS
    distance among those it evaluated (``WWFit.__init__`` takes ``argmin(Ds)`` after
    ``fit_powerlaw_smallN`` chose by ``D - 0.868 / sqrt(n)``, overwriting that choice);
    with no candidate, the whole spectrum as the tail."""
    logx = x.log()
    N = x.numel()
    n = torch.arange(N, 0, -1, dtype=x.dtype)[:-1]
    s = logx.flip(0).cumsum(0).flip(0)[:-1] - n * logx[:-1]
    ok = (n >= SMALL_N_MIN_TAIL) & (s > 1e-12)
    alphas = torch.where(ok, 1 + (n - 1) / s.clamp_min(1e-300), torch.zeros_like(s))
    evaluated = ok & (alphas > 1)
    D = torch.where(evaluated, _ks_distances(logx, alphas, correction=0.0), torch.ones_like(s))
    if not bool(evaluated.any()):
        if float(s[0]) <= 1e-12:  # WeightWatcher leaves alpha at 0 here
            return PowerLawFit(0.0, float(x[0]), 1.0, -1 / math.sqrt(N), N)
        alphas = alphas.clone()
        alphas[0] = 1 + (N - 1) / s[0]
        D = D.clone()
        D[0] = _ks_row(logx, float(alphas[0]))
    return _result(x, alphas, D, int(torch.argmin(D)))  # the first of equal distances


def _ks_row(logx: Tensor, alpha: float) -> float:
    """The KS distance of the whole spectrum as the tail, for any alpha (not only > 1)."""
    N = logx.numel()
    fit = 1 - torch.exp((1 - alpha) * (logx - logx[0]))
    return float((fit - torch.arange(N, dtype=logx.dtype) / N).abs().amax())


def _ks_distances(logx: Tensor, alphas: Tensor, correction: float) -> Tensor:
    """D[i] = max_{j>=i} |1 - (x_j/x_i)^(1-alpha_i) - (j-i)/n_i|; 1 where alpha_i <= 1.

    logx: (N,) ascending logs; alphas: (N-1,). Rows are evaluated in chunks, in place.
    """
    N = logx.numel()
    D = torch.ones(N - 1, dtype=logx.dtype)
    rows = max(1, _CHUNK // N)
    j = torch.arange(N, dtype=logx.dtype)
    for start in range(0, N - 1, rows):
        i = torch.arange(start, min(start + rows, N - 1))  # (b,)
        slope = 1 - alphas[i]  # (b,)
        inv_n = 1 / (N - i).to(logx.dtype)
        grid = torch.outer(slope, logx)  # (b, N): (1 - a_i) log x_j
        grid.sub_((slope * logx[i]).unsqueeze(1)).exp_()  # (x_j / x_i)^(1 - a_i)
        grid.neg_().add_((1 + i * inv_n).unsqueeze(1)).sub_(torch.outer(inv_n, j)).abs_()
        grid.triu_(start)  # row r holds i = start + r: only j >= i counts
        D[i] = torch.where(alphas[i] > 1, grid.amax(1), D[i])
    return D


def _result(x: Tensor, alphas: Tensor, D: Tensor, i: int) -> PowerLawFit:
    n_tail = x.numel() - i
    alpha = float(alphas[i])
    return PowerLawFit(alpha, float(x[i]), float(D[i]), (alpha - 1) / math.sqrt(n_tail), n_tail)


def log_spectral_norm(s: Tensor) -> float:
    """log10(lambda_max) = log10(max s^2). s: (r,)."""
    return math.log10(float(s.detach().double().amax()) ** 2)


def log_norm(s: Tensor) -> float:
    """log10(sum s^2): twice log10 of the Frobenius norm. s: (r,)."""
    return math.log10(float(s.detach().double().square().sum()))


def alpha_weighted(alpha: float, s: Tensor) -> float:
    """alpha * log10(lambda_max) (WeightWatcher's alpha_weighted, 'alpha-hat')."""
    return alpha * log_spectral_norm(s)


def log_alpha_norm(alpha: float, s: Tensor) -> float:
    """log10(sum lambda^alpha): the Schatten alpha-norm of W^T W, on a log scale."""
    lam = s.detach().double().square()
    return float(torch.logsumexp(alpha * lam.clamp_min(1e-300).log(), 0)) / math.log(10)


def mp_median(beta: float) -> float:
    """Median of the Marchenko-Pastur law of aspect ratio beta = r / max(m, n) in (0, 1],
    for unit-variance entries scaled by 1/max(m, n) (Gavish & Donoho 2014)."""
    return float(mp_quantiles(beta, 1)[0])


def mp_bulk_edge(s: Tensor, shape: tuple[int, int]) -> float:
    """The largest singular value a random (m, n) matrix with W's noise level would reach:
    sigma * sqrt(mu + TW99 * sigma_tw), with mu = (sqrt(m) + sqrt(n))^2 the Marchenko-Pastur
    edge of the eigenvalues, sigma_tw = (sqrt(m) + sqrt(n)) (1/sqrt(m) + 1/sqrt(n))^(1/3)
    the scale of their Tracy-Widom fluctuation (Johnstone 2001) and TW99 = 2.02 its 99th
    percentile. The noise level sigma comes from the median singular value, so outliers do
    not inflate it (Gavish & Donoho 2014)."""
    m, n = shape
    big, r = max(m, n), min(m, n)
    if s.shape[-1] != r:
        raise ValueError(f"{s.shape[-1]} singular values for a {m}x{n} matrix")
    median = float(s.detach().double().median())
    sigma = median / math.sqrt(big * mp_median(r / big))
    root = math.sqrt(m) + math.sqrt(n)
    fluctuation = root * (1 / math.sqrt(m) + 1 / math.sqrt(n)) ** (1 / 3)
    return sigma * math.sqrt(root**2 + TW99 * fluctuation)


def mp_outliers(s: Tensor, shape: tuple[int, int]) -> int:
    """Number of singular values above the Marchenko-Pastur bulk edge (the spikes)."""
    return int((s.detach().double() > mp_bulk_edge(s, shape)).sum())


def rand_distance(s: Tensor, shape: tuple[int, int]) -> float:
    """Jensen-Shannon distance between the ESD of W and that of a random matrix with W's
    entries: sorted, each normalised to sum 1 and compared entry by entry, as
    WeightWatcher's ``rand_distance`` does. WeightWatcher draws the random ESD by shuffling
    W's entries and running a second SVD; a shuffled matrix has exchangeable entries of
    W's variance, whose ESD is the Marchenko-Pastur law, so its quantiles are used here
    instead (no second SVD, no random state). 0 for a matrix that looks random.
    """
    m, n = shape
    big, r = max(m, n), min(m, n)
    if s.shape[-1] != r:
        raise ValueError(f"{s.shape[-1]} singular values for a {m}x{n} matrix")
    p = eigenvalues(s)
    q = mp_quantiles(r / big, r)  # a common scale cancels in the normalisation
    p, q = p / p.sum(), q / q.sum()
    mid = (p + q) / 2
    divergence = (torch.special.xlogy(p, p / mid).sum() + torch.special.xlogy(q, q / mid).sum()) / 2
    return math.sqrt(max(float(divergence), 0.0))


def mp_quantiles(beta: float, count: int) -> Tensor:
    """``count`` ascending quantiles, at (i + 0.5) / count, of the Marchenko-Pastur law of
    aspect ratio beta in (0, 1] (eigenvalues of X^T X / max(m, n), unit-variance X)."""
    grid, cdf = _mp_cdf(beta)
    levels = (torch.arange(count, dtype=torch.float64) + 0.5) / count
    return grid[torch.searchsorted(cdf, levels).clamp_max(grid.numel() - 1)]


@functools.lru_cache(maxsize=64)
def _mp_cdf(beta: float) -> tuple[Tensor, Tensor]:
    """A 20,000-point grid over the law's support and its CDF (cached: read-only)."""
    lo, hi = (1 - math.sqrt(beta)) ** 2, (1 + math.sqrt(beta)) ** 2
    grid = torch.linspace(lo, hi, 20001, dtype=torch.float64)[1:-1]
    density = torch.sqrt((hi - grid) * (grid - lo)) / (2 * math.pi * beta * grid)
    cdf = torch.cumsum(density, 0)
    return grid, cdf / cdf[-1]
