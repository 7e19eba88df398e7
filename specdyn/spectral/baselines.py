"""Random-matrix baselines: what a metric gives when nothing has been learned.

A number such as "normalised effective rank 0.74" or "agreement 0.3" is read against the
value the same metric gives on random data of the same dimensions:

- metrics of one (m, n) matrix (effective and stable rank, norms, alpha, MP outliers, any
  user-defined metric): an i.i.d. Gaussian (m, n) matrix whose entries have the matrix's
  own scale ``sigma = ||W||_F / sqrt(m n)`` (scale-free metrics do not depend on it);
  a Monte Carlo over ``samples`` such matrices, drawn from a seeded generator (the
  same numbers every time) and cached per (shape, k);
- alignment (Eq. 3-4): the top-k score of two independent, uniformly random orthonormal
  bases; each diagonal entry is then |<u, v>| for u, v independent and uniform on the unit
  sphere of the space the vectors live in, of mean ``mean_abs_dot(D)``, exactly;
- agreement (Eq. 5): the same for the left and the right bases, independent: mean
  ``mean_abs_dot(m) * mean_abs_dot(n)``, exactly;
- the Marchenko-Pastur bulk edge ``sigma (sqrt(m) + sqrt(n))``, the largest singular value
  of a large random matrix of that scale.

Alpha's baseline is that of a Gaussian matrix, which is also that of the matrix with its
entries shuffled (WeightWatcher's ``randomize``) whenever its entries have a finite
fourth moment: the ESD of a matrix of exchangeable entries follows the same
Marchenko-Pastur law. The spread ``std`` is that of one random draw (not of the mean).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from specdyn.spectral import metrics, mp_fit, powerlaw
from specdyn.spectral.registry import MatrixSpectrum

MAX_SAMPLES = 1000
MIN_SAMPLES = 4
SAMPLE_ENTRIES = 2**22  # entries of all Monte Carlo matrices of one shape together, about


@dataclass(frozen=True)
class Baseline:
    """mean: the metric's expected value on the random reference; std: its spread over
    single random draws; samples: Monte Carlo draws (0: exact); how: the reference."""

    mean: float
    std: float
    samples: int
    how: str

    def distance(self, value: float) -> float:
        """How far ``value`` lies above (> 0) or below the mean, in units of ``std``;
        +-inf when the baseline has no spread and ``value`` differs from it."""
        if self.std > 0:
            return (value - self.mean) / self.std
        return 0.0 if value == self.mean else math.copysign(math.inf, value - self.mean)


def samples_for(shape: tuple[int, int]) -> int:
    """Monte Carlo draws for an (m, n) matrix: many for small matrices, whose metrics
    fluctuate; few for large ones, whose spectra concentrate."""
    m, n = shape
    return max(MIN_SAMPLES, min(MAX_SAMPLES, SAMPLE_ENTRIES // (m * n)))


def mean_abs_dot(dim: int) -> float:
    """E|<u, v>| for u, v independent and uniform on the unit sphere of R^dim:
    Gamma(dim/2) / (sqrt(pi) Gamma((dim+1)/2))."""
    if dim < 1:
        raise ValueError(f"a space of dimension {dim} has no unit vectors")
    return math.exp(math.lgamma(dim / 2) - math.lgamma((dim + 1) / 2)) / math.sqrt(math.pi)


def mp_bulk_edge(shape: tuple[int, int], sigma: float) -> float:
    """sigma (sqrt(m) + sqrt(n)): the top of the Marchenko-Pastur bulk of singular values of
    an (m, n) matrix of i.i.d. entries of standard deviation sigma."""
    m, n = shape
    return sigma * (math.sqrt(m) + math.sqrt(n))


def entry_scale(s: Tensor, shape: tuple[int, int]) -> float:
    """sigma = ||W||_F / sqrt(m n): the entries' root mean square, from all r values s."""
    m, n = shape
    return math.sqrt(float(s.detach().double().square().sum()) / (m * n))


def _alpha(sp: MatrixSpectrum) -> float:
    return powerlaw.fit_powerlaw(sp.s).alpha


def _alpha_then(f: Callable[[float, Tensor], float]) -> Callable[[MatrixSpectrum], float]:
    return lambda sp: f(_alpha(sp), sp.s)


# name -> (metric of one matrix's spectrum, whether it depends on the entries' scale)
MATRIX_METRICS: dict[str, tuple[Callable[[MatrixSpectrum], float], bool]] = {
    "effective_rank": (lambda sp: float(metrics.effective_rank(sp.s)), False),
    "normalized_effective_rank": (lambda sp: float(metrics.normalized_effective_rank(sp.s)), False),
    "stable_rank": (lambda sp: float(metrics.stable_rank(sp.s)), False),
    "spectral_norm": (lambda sp: float(metrics.spectral_norm(sp.s)), True),
    "frobenius_norm": (lambda sp: float(metrics.frobenius_norm(sp.s)), True),
    "alpha": (_alpha, False),
    "alpha_weighted": (_alpha_then(powerlaw.alpha_weighted), True),
    "log_alpha_norm": (_alpha_then(powerlaw.log_alpha_norm), True),
    "log_spectral_norm": (lambda sp: powerlaw.log_spectral_norm(sp.s), True),
    "log_norm": (lambda sp: powerlaw.log_norm(sp.s), True),
    "mp_outliers": (lambda sp: float(powerlaw.mp_outliers(sp.s, sp.shape)), False),
    "num_spikes": (lambda sp: float(mp_fit.num_spikes(sp.s, sp.shape)), False),
    "rand_distance": (lambda sp: powerlaw.rand_distance(sp.s, sp.shape), False),
}


# the costly ones (a fit per draw) and their draws: a power-law fit, a KDE MP fit
FIT_SAMPLES = {"alpha": 100, "alpha_weighted": 100, "log_alpha_norm": 100, "num_spikes": 30}


@functools.lru_cache(maxsize=32)
def gaussian_spectra(
    shape: tuple[int, int], k: int, samples: int, seed: int = 0, vectors: bool = True
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """SVDs of ``samples`` i.i.d. standard Gaussian (m, n) matrices, float64, from a
    generator seeded with ``seed``: s (N, r), U (N, m, k'), V (N, n, k'), k' = min(k, r),
    or no vectors. From the eigendecomposition of each float64 Gram matrix of the short
    side (a Gaussian matrix is well conditioned: exact to float64 rounding for these
    purposes, and many times faster than a batched SVD on CPU). Cached (read-only)."""
    m, n = shape
    generator = torch.Generator().manual_seed(seed)
    kk, chunk = min(k, m, n), max(1, SAMPLE_ENTRIES // (m * n))
    parts = []
    for start in range(0, samples, chunk):  # at most about SAMPLE_ENTRIES entries at once
        size = min(chunk, samples - start)
        G = torch.randn(size, m, n, generator=generator, dtype=torch.float64)
        parts.append(_decomposed(G if m >= n else G.mT, kk, vectors, flip=m < n))
    s = torch.cat([p[0] for p in parts])
    if not vectors:
        return s, None, None
    U = torch.cat([p[1] for p in parts])  # type: ignore[misc]
    V = torch.cat([p[2] for p in parts])  # type: ignore[misc]
    return s, U, V


def _decomposed(
    X: Tensor, k: int, vectors: bool, flip: bool
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """(s, U, V) of the tall (N, a, b) X via eigh of X^T X; ``flip``: X is a transpose."""
    gram = X.mT @ X  # (N, b, b)
    if not vectors:
        return torch.linalg.eigvalsh(gram).clamp_min(0).sqrt().flip(-1), None, None
    lam, W = torch.linalg.eigh(gram)
    s = lam.clamp_min(0).sqrt().flip(-1)
    V = W.flip(-1)[..., :k]
    U = (X @ V) / s[..., None, :k]
    return (s, V, U) if flip else (s, U, V)


def matrix_baseline(
    fn: Callable[[MatrixSpectrum], float],
    shape: tuple[int, int],
    k: int,
    sigma: float = 1.0,
    samples: int | None = None,
    seed: int = 0,
    name: str = "",
    scaled: bool = True,
    vectors: bool = True,
) -> Baseline:
    """The mean and spread of ``fn`` over i.i.d. Gaussian (m, n) matrices of entry scale
    ``sigma``, each decomposed with its top-k vectors (``fn`` sees a MatrixSpectrum named
    ``name``; ``vectors``: False for a metric of the values only, which then get no
    vectors). ``scaled``: False for a scale-free metric (only the label says so). A draw
    on which ``fn`` gives NaN does not count."""
    n_samples = samples_for(shape) if samples is None else samples
    s, U, V = gaussian_spectra(shape, k, n_samples, seed, vectors)
    values = torch.tensor(
        [
            float(fn(MatrixSpectrum(s[i] * sigma, _at(U, i), _at(V, i), name, shape)))
            for i in range(n_samples)
        ],
        dtype=torch.float64,
    )
    values = values[~values.isnan()]
    if not values.numel():
        raise ValueError(f"metric '{name}' is NaN on every random {shape[0]}x{shape[1]} matrix")
    std = float(values.std()) if values.numel() > 1 else 0.0
    how = f"i.i.d. Gaussian {shape[0]}x{shape[1]}" + (
        f", entry scale {sigma:.4g}" if scaled else ""
    )
    return Baseline(float(values.mean()), std, int(values.numel()), how)


def _at(X: Tensor | None, i: int) -> Tensor | None:
    return None if X is None else X[i]


def random_bases(dim: int, k: int, samples: int, generator: torch.Generator) -> Tensor:
    """``samples`` uniformly random orthonormal (dim, k) bases (Haar), float64."""
    G = torch.randn(samples, dim, k, generator=generator, dtype=torch.float64)
    Q, R = torch.linalg.qr(G)
    return Q * torch.sign(torch.diagonal(R, dim1=-2, dim2=-1)).unsqueeze(-2)


def alignment_baseline(dim: int, k: int, samples: int = MAX_SAMPLES, seed: int = 0) -> Baseline:
    """The top-``k`` alignment score (Eq. 4) of two independent uniformly random
    orthonormal bases of R^dim: mean exactly ``mean_abs_dot(dim)``; std from a Monte Carlo.

    k: the entries the score averages (min(10, vectors kept)); dim: the dimension of the
    space the compared vectors live in (for a convolution's centre position, that of the
    whole flattened input: the centre slice of a uniform unit vector gives the same dots).
    """
    if not 1 <= k <= dim:
        raise ValueError(f"an alignment score of {k} vectors in R^{dim} is impossible")
    generator = torch.Generator().manual_seed(seed)
    A, B = random_bases(dim, k, samples, generator), random_bases(dim, k, samples, generator)
    scores = (A * B).sum(-2).abs().mean(-1)  # (samples,): mean_j |<a_j, b_j>|
    how = f"independent uniformly random bases of R^{dim}, top-{k}"
    return Baseline(mean_abs_dot(dim), float(scores.std()), 0, how)


def agreement_baseline(
    shape: tuple[int, int], k: int, samples: int = MAX_SAMPLES, seed: int = 0
) -> Baseline:
    """The top-``k`` agreement score (Eq. 5) of two independent uniformly random sets of
    singular vectors of an (m, n) matrix: mean exactly mean_abs_dot(m) * mean_abs_dot(n);
    std from a Monte Carlo."""
    m, n = shape
    if not 1 <= k <= min(m, n):
        raise ValueError(f"an agreement score of {k} vectors of a {m}x{n} matrix is impossible")
    generator = torch.Generator().manual_seed(seed)
    left = [random_bases(m, k, samples, generator) for _ in range(2)]
    right = [random_bases(n, k, samples, generator) for _ in range(2)]
    dots = (left[0] * left[1]).sum(-2).abs() * (right[0] * right[1]).sum(-2).abs()
    how = f"independent uniformly random singular vectors of a {m}x{n} matrix, top-{k}"
    return Baseline(mean_abs_dot(m) * mean_abs_dot(n), float(dots.mean(-1).std()), 0, how)
