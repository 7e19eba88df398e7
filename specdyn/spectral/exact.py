"""Decomposition routes that are exact to stated tolerances, with a-posteriori certificates.

Tolerances, against a float64 SVD of the same matrix (tests/test_svd_exact.py):

- each of the top ``N_VALUES`` singular values: relative error <= 1e-5;
- the effective rank (Eq. 1, all values): relative error <= 1e-6;
- each kept singular vector: error <= 1e-4 in the agreement and alignment entries it
  enters (Eq. 3, 5). Vectors of (near-)repeated singular values are not unique; there the
  subspace they span is what is exact.

Routes, each on a batch ``X`` of (b, m, n) matrices:

- ``gram``: m >= n. ``eigh`` of the float64 Gram matrix X^T X gives V and s^2; U = X V / s.
  Eigenvalues of the Gram matrix carry an absolute error below ``GRAM_C * eps64 * s_1^2``
  (measured: <= 12.5, benchmarks/calibrate_svd.py); from that bound each matrix certifies
  its values and vectors, and one that cannot (values below ~1e-4 s_1 among the top ones, a
  tail that moves the effective rank, a vector whose gap is too small to resolve) gets
  ``svdvals`` in float64 for its values and/or a float64 SVD for its vectors.
- ``svd``: the LAPACK SVD in the matrices' dtype, then one Rayleigh-Ritz step in float64:
  the Gram route in the SVD's own (orthonormalised) basis, certified the same way.

Certificates are conservative (10x margins below the stated tolerances), so a matrix that
passes is exact; one that fails costs a second, float64 decomposition.
"""

from __future__ import annotations

import torch
from torch import Tensor

EPS64 = torch.finfo(torch.float64).eps
GRAM_C = 64.0  # eigenvalue error of the Gram route, in eps64 * s_1^2 (measured <= 12.5)
N_VALUES = 100  # the values held to VALUE_TOL; all of them count for the effective rank
VALUE_TOL = 1e-6  # stated 1e-5
ERANK_TOL = 1e-7  # stated 1e-6
VECTOR_TOL = 5e-6  # an entry of Eq. 3 / 5 moves by at most 2x this; stated 1e-4

Parts = tuple[Tensor, Tensor | None, Tensor | None]  # s (b, r), U (b, m, k), V (b, n, k)


def gram_route(X: Tensor, k: int, wants: bool) -> Parts:
    """X: (b, m, n) with m >= n. Float64 s (b, n) and, if ``wants``, top-k U and V."""
    return _ritz(X.double(), None, k, wants)


def svd_route(X: Tensor, k: int, wants: bool, driver: str | None = None) -> Parts:
    """Any (b, m, n): the LAPACK SVD in X's dtype, its vectors refined in float64 (one
    Rayleigh-Ritz step: the Gram route in the SVD's own basis). Values only: float64
    ``svdvals``."""
    X64 = X.double()
    if not wants:
        return torch.linalg.svdvals(X64, driver=driver), None, None
    U, s, Vh = torch.linalg.svd(X, full_matrices=False, driver=driver)
    if X.dtype == torch.float64:
        return s, U[..., :k], Vh.mT[..., :k]
    if X.shape[-2] < X.shape[-1]:  # wide: U is a complete basis of the short side
        s, V, U = _ritz(X64.mT, torch.linalg.qr(U.double()).Q, k, True)
        return s, U, V
    return _ritz(X64, torch.linalg.qr(Vh.mT.double()).Q, k, True)


def _ritz(X64: Tensor, basis: Tensor | None, k: int, wants: bool) -> Parts:
    """X64 (b, m, n), m >= n; basis: (b, n, n) orthonormal, or None for the identity.
    ``eigh`` of the Gram matrix in that basis, certified; float64 fallbacks where not."""
    B = X64 if basis is None else X64 @ basis
    G = B.mT @ B
    if wants:
        lam, Q = torch.linalg.eigh(G)
    else:
        lam, Q = torch.linalg.eigvalsh(G), None
    s = lam.flip(-1).clamp_min(0).sqrt()
    error = GRAM_C * EPS64 * s[..., :1].square()  # (b, 1): bound on every eigenvalue's error
    values_bad = ~values_certified(s, error)
    if bool(values_bad.any()):
        s = s.clone()
        s[values_bad] = torch.linalg.svdvals(X64[values_bad])
    if Q is None:
        return s, None, None
    V = Q.flip(-1)[..., :k]
    if basis is not None:
        V = basis @ V
    XV = X64 @ V
    U = XV / torch.linalg.vector_norm(XV, dim=-2, keepdim=True).clamp_min(_TINY)
    vectors_bad = ~vectors_certified(s, error / s[..., :k].clamp_min(_TINY), k)
    return _redo_vectors(X64, s, U, V, vectors_bad, k)


def values_certified(s: Tensor, error: Tensor) -> Tensor:
    """(b,) bool: the top values and the effective rank hold their tolerances, given
    descending values ``s`` (b, r) whose squares are within ``error`` (b, 1) of the truth."""
    ds = torch.minimum(error.sqrt(), error / s.clamp_min(_TINY))  # |sqrt(a) - sqrt(b)| bound
    top = s[..., :N_VALUES]
    relative = (ds[..., :N_VALUES] / top.clamp_min(_TINY)).amax(-1)
    total = s.sum(-1, keepdim=True).clamp_min(_TINY)
    p = (s + ds) / total
    entropy = -(p * p.log()).sum(-1, keepdim=True)
    # |d log erank| = |dH| <= sum_i |ds_i| |log p_i + H| / sum(s)
    erank = (ds * (p.log().abs() + entropy.abs())).sum(-1) / total.squeeze(-1)
    return (relative <= VALUE_TOL) & (erank <= ERANK_TOL) & (top[..., -1] > 0)


def vectors_certified(s: Tensor, error: Tensor, k: int) -> Tensor:
    """(b,) bool: each of the top-k vectors is within VECTOR_TOL, its error being at most
    ``error`` (b, k) divided by its gap to the nearest other singular value."""
    gaps = _gaps(s)[..., :k]
    return ((error / gaps.clamp_min(_TINY)) <= VECTOR_TOL).all(-1) & (s[..., :k] > 0).all(-1)


def _gaps(s: Tensor) -> Tensor:
    """(b, r): distance of each value to its nearest neighbour (inf for a lone value)."""
    gaps = torch.full_like(s, float("inf"))
    if s.shape[-1] > 1:
        d = s[..., :-1] - s[..., 1:]
        gaps[..., :-1] = d
        gaps[..., 1:] = torch.minimum(gaps[..., 1:], d)
    return gaps


def _redo_vectors(X64: Tensor, s: Tensor, U: Tensor, V: Tensor, bad: Tensor, k: int) -> Parts:
    """A float64 SVD for the matrices whose vectors are not certified (rank-deficient,
    (near-)repeated or tiny singular values among the top k)."""
    if bool(bad.any()):
        U, V, s = U.clone(), V.clone(), s.clone()
        U_bad, s_bad, Vh_bad = torch.linalg.svd(X64[bad], full_matrices=False)
        U[bad], s[bad], V[bad] = U_bad[..., :k], s_bad, Vh_bad.mT[..., :k]
    return s, U, V


_TINY = torch.finfo(torch.float64).tiny
