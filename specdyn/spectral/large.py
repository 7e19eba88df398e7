"""One large matrix read from disk, decomposed by the certified Gram route without ever
holding it in float64, its top-k vectors from a truncated method when its short side is
large.

The tolerances and certificates are those of :mod:`specdyn.spectral.exact` (the engine
training records with). For W (m, n), transposed first so that m >= n:

- G = W^T W is accumulated in float64 from row blocks of W (``BLOCK_BYTES`` each), so the
  matrix stays in its stored dtype (bf16: 2 bytes an entry, not 8);
- values: ``eigvalsh(G)``, certified by :func:`~specdyn.spectral.exact.values_certified`
  (else ``svdvals`` of W in float64);
- vectors, short side below ``TRUNCATED_MIN``: ``eigh(G)``, certified by
  :func:`~specdyn.spectral.exact.vectors_certified` (else a float64 SVD);
- vectors, short side of ``TRUNCATED_MIN`` or more (embeddings, lm_head, 8192-wide
  projections): block subspace iteration on G from a seeded random start, at most
  ``MAX_ITERATIONS`` products with G, accepted only when every top-k Ritz vector's
  residual certifies it to ``VECTOR_TOL`` (Davis-Kahan: sin(angle) <= (||G v - t v|| + the
  Gram error) / its distance to the other eigenvalues, taken from ``eigvalsh``); a
  spectrum too flat to certify falls back to ``eigh(G)``, the exact path above.
U = W V / s is formed from row blocks too.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from specdyn.spectral.exact import (
    EPS64,
    GRAM_C,
    VECTOR_TOL,
    values_certified,
    vectors_certified,
)
from specdyn.spectral.svd import FULL_SVD_MAX, Spectrum, check_finite, decompose

BLOCK_BYTES = 64 * 2**20  # float64 rows converted at a time
GRAM_COLUMN_BLOCKS = 8  # column blocks of the triangular Gram product
TRUNCATED_MIN = 4096  # short sides from which top-k vectors come from subspace iteration
MAX_ITERATIONS = 24  # products with G before falling back to eigh
OVERSAMPLE = 16

_TINY = torch.finfo(torch.float64).tiny


def decompose_large(name: str, W: Tensor, k: int, truncated_min: int = TRUNCATED_MIN) -> Spectrum:
    """Spectrum of the (m, n) matrix ``W``: all min(m, n) values and the top-k vectors (none
    for k = 0), exact to :mod:`specdyn.spectral.exact`'s tolerances; float32 (float64 for
    a float64 W). ``truncated_min``: the short side from which vectors are truncated."""
    if W.ndim != 2:
        raise ValueError(f"matrix '{name}' must be 2-D, got shape {tuple(W.shape)}")
    if min(W.shape) <= FULL_SVD_MAX:
        return decompose({name: W}, k=k, vectors=k > 0)[name]
    check_finite(name, W)
    dtype = torch.float64 if W.dtype == torch.float64 else torch.float32
    wide = W.shape[0] < W.shape[1]
    X = W.mT if wide else W  # (m, n), m >= n
    G = gram64(X)
    k = min(k, X.shape[1])
    s, V = _values_and_vectors(X, G, k, truncated_min)
    if V is None:
        return Spectrum(s.to(dtype))
    if isinstance(V, tuple):  # the float64 SVD's own U and V (values: the certified ones)
        U, _, V = V
    else:
        U = _left_vectors(X, V)
    U, V = (V, U) if wide else (U, V)
    return Spectrum(s.to(dtype), U.to(dtype), V.to(dtype))


def gram64(X: Tensor) -> Tensor:
    """X^T X in float64, (n, n), from row blocks of the (m, n) ``X``.

    Only the block upper triangle is multiplied (column blocks ``a <= b``, as BLAS ``syrk``
    does), then mirrored: 56% of the products of a full ``B^T B`` at 8 column blocks, the
    same sums (each entry is the dot product of two columns either way)."""
    n = X.shape[1]
    G = torch.zeros(n, n, dtype=torch.float64)
    cuts = [n * i // GRAM_COLUMN_BLOCKS for i in range(GRAM_COLUMN_BLOCKS + 1)]
    spans = [(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]
    for B in _row_blocks(X):
        for a, b in spans:
            G[a:b, a:].addmm_(B[:, a:b].mT, B[:, a:])
    for a, b in spans:
        G[b:, a:b] = G[a:b, b:].mT
    return G


def _row_blocks(X: Tensor) -> Iterator[Tensor]:
    """Row blocks of X in float64, one at a time, about BLOCK_BYTES each."""
    rows = max(1, BLOCK_BYTES // (8 * X.shape[1]))
    for i in range(0, X.shape[0], rows):
        yield X[i : i + rows].double()


_Vectors = Tensor | tuple[Tensor, Tensor, Tensor] | None


def _values_and_vectors(
    X: Tensor, G: Tensor, k: int, truncated_min: int
) -> tuple[Tensor, _Vectors]:
    """Certified descending values (n,) and top-k right vectors (n, k), None for k = 0, or
    a float64 SVD's (U, s, V) where the vectors could not be certified."""
    n = G.shape[0]
    truncate = k > 0 and n >= truncated_min and k + OVERSAMPLE < n // 2
    if k == 0 or truncate:
        s = torch.linalg.eigvalsh(G).flip(0).clamp_min(0).sqrt()
        Q = None
    else:
        lam, Q = torch.linalg.eigh(G)
        s = lam.flip(0).clamp_min(0).sqrt()
    error = GRAM_C * EPS64 * s[:1].square()  # (1,): bound on every eigenvalue's error
    if not bool(values_certified(s[None], error[None])[0]):
        s = torch.linalg.svdvals(X.double())
    if k == 0:
        return s, None
    if Q is not None:
        V = Q.flip(1)[:, :k]
        if bool(vectors_certified(s[None], (error / s[:k].clamp_min(_TINY))[None], k)[0]):
            return s, V
        return s, _svd_vectors(X, k)
    found = top_eigenvectors(G, s.square(), k, float(error))
    if found is None:  # too flat to certify in MAX_ITERATIONS: the exact path
        return _values_and_vectors(X, G, k, truncated_min=n + 1)
    return s, found


def top_eigenvectors(
    G: Tensor, lam: Tensor, k: int, error: float, iterations: int = MAX_ITERATIONS
) -> Tensor | None:
    """Top-k eigenvectors (n, k) of the symmetric PSD ``G`` (n, n) by block subspace
    iteration, given all its eigenvalues ``lam`` (n,) descending, each within ``error``;
    None when the residuals do not certify every vector to VECTOR_TOL."""
    n = G.shape[0]
    gen = torch.Generator().manual_seed(0)
    Q = torch.linalg.qr(torch.randn(n, k + OVERSAMPLE, generator=gen, dtype=G.dtype)).Q
    gaps = _distances(lam, k)  # (k,): distance of each top eigenvalue to the others
    for _ in range(iterations):
        GQ = G @ Q
        theta, Z = torch.linalg.eigh(Q.mT @ GQ)
        Zk, tk = Z.flip(1)[:, :k], theta.flip(0)[:k]
        residual = torch.linalg.vector_norm(GQ @ Zk - (Q @ Zk) * tk, dim=0)
        if bool((((residual + 2 * error) / gaps.clamp_min(_TINY)) <= VECTOR_TOL).all()):
            return Q @ Zk
        Q = torch.linalg.qr(GQ).Q
    return None


def _distances(lam: Tensor, k: int) -> Tensor:
    """(k,): for each of the top-k eigenvalues, the distance to the nearest other one."""
    d = lam[:-1] - lam[1:]
    below = d[:k]
    above = torch.cat([torch.full((1,), float("inf"), dtype=lam.dtype), d[: k - 1]])
    return torch.minimum(below, above)


def _svd_vectors(X: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """U, s, V (top k) of a float64 SVD: the fallback for vectors not certified."""
    U, s, Vh = torch.linalg.svd(X.double(), full_matrices=False)
    return U[:, :k], s, Vh.mT[:, :k]


def _left_vectors(X: Tensor, V: Tensor) -> Tensor:
    """U = X V / |X V| from row blocks (the norm is s, but is exact for tiny s too)."""
    XV = torch.cat([B @ V for B in _row_blocks(X)])
    return XV / torch.linalg.vector_norm(XV, dim=0, keepdim=True).clamp_min(_TINY)
