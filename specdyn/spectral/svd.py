"""The SVD engine: one decomposition per matrix, shared by every metric.

Matrices go in batches of one shape, and each batch takes the route measured fastest for
its shape among those exact to the tolerances of :mod:`specdyn.spectral.exact`
(benchmarks/calibrate_svd.py; docs/benchmarks.md has the table):

- ``svd``: the LAPACK SVD, for matrices with a side of at most ``FULL_SVD_MAX`` (8): there
  every route costs the same tens of microseconds of call overhead;
- ``gram``: everything larger, wide matrices transposed first (so a (128, 512) and a
  (512, 128) matrix share one batch): ``eigh`` of the float64 Gram matrix of the short
  side, U = X V / s. On 2 CPU cores it takes 0.2-0.6x the time of a float32 SVD with
  vectors from 16x16 to 768x3072, and about half that of a float64 one.

``svdvals`` plus a randomized top-k was measured too; it is faster for 768-wide matrices
but misses the vector tolerance on flat spectra (a network at initialisation), so it is
not used. On CUDA the same routes run on the device (float64 there as well); the rule was
measured on CPU only.

A batch that fails to converge is retried matrix by matrix, on CPU, in float64 (and, on
CUDA, first with the ``gesvd`` driver), so a failure names the matrix it came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from specdyn.errors import NonFiniteMatrixError, SVDError
from specdyn.spectral.exact import Parts, gram_route, svd_route

FULL_SVD_MAX = 8  # matrices with min(m, n) <= this take the LAPACK SVD route


@dataclass(frozen=True)
class Spectrum:
    """The SVD of one (m, n) matrix: W ~= U diag(s) V^T.

    s: (r,) singular values, descending, r = min(m, n).
    U: (m, k) top-k left singular vectors (columns), or None when not asked for.
    V: (n, k) top-k right singular vectors (columns), or None when not asked for.
    """

    s: Tensor
    U: Tensor | None = None
    V: Tensor | None = None


def all_finite(W: Tensor) -> bool:
    """Whether W holds no NaN or Inf. A sum first: NaN and Inf reach it, so a finite sum
    proves every entry finite; only a non-finite sum (NaN, Inf or an overflow) is checked
    entry by entry. The sum costs a fraction of the elementwise test."""
    return bool(torch.isfinite(W.sum())) or bool(torch.isfinite(W).all())


def check_finite(name: str, W: Tensor) -> None:
    """Raise NonFiniteMatrixError naming ``name`` if W holds NaN or Inf."""
    if not all_finite(W):
        shape = "x".join(map(str, W.shape))
        raise NonFiniteMatrixError(f"matrix '{name}' ({shape}) has NaN or Inf entries")


def route(shape: tuple[int, ...]) -> str:
    """The decomposition route of an (m, n) matrix: "svd" or "gram"."""
    return "svd" if min(shape) <= FULL_SVD_MAX else "gram"


def decompose(
    matrices: Mapping[str, Tensor],
    k: int | None = 100,
    vectors: bool | Collection[str] = True,
) -> dict[str, Spectrum]:
    """Decompose every matrix once; same-shape matrices in one batched call.

    matrices: name -> (m, n) tensor. k: vectors kept per matrix (None keeps all r).
    vectors: True for all matrices, False for none, or the names that need them.
    Returns name -> Spectrum on the matrices' device, float32 (float64 if given float64).
    """
    for name, W in matrices.items():
        if W.ndim != 2:
            raise ValueError(f"matrix '{name}' must be 2-D, got shape {tuple(W.shape)}")
        check_finite(name, W)
    groups: dict[tuple, list[str]] = defaultdict(list)
    for name, W in matrices.items():
        wants = vectors if isinstance(vectors, bool) else name in vectors
        key = (*_batch_shape(W), W.dtype, W.device, wants)
        groups[key].append(name)
    out: dict[str, Spectrum] = {}
    for key, names in groups.items():
        out.update(_decompose_group(names, [matrices[n] for n in names], k, key[-1]))
    return {name: out[name] for name in matrices}


def _batch_shape(W: Tensor) -> tuple[str, int, int]:
    m, n = W.shape
    if route((m, n)) == "svd":
        return "svd", m, n
    return "gram", max(m, n), min(m, n)


def _working_dtype(W: Tensor) -> Tensor:
    return W if W.dtype == torch.float64 else W.float()


def _decompose_group(
    names: list[str], mats: list[Tensor], k: int | None, wants: bool
) -> dict[str, Spectrum]:
    m, n = mats[0].shape
    kk = min(m, n) if k is None else min(k, m, n)
    try:
        if route((m, n)) == "svd":
            parts = svd_route(torch.stack([_working_dtype(W) for W in mats]), kk, wants)
            flips = [False] * len(mats)
        else:
            flips = [W.shape[0] < W.shape[1] for W in mats]
            tall = [W.mT if flip else W for W, flip in zip(mats, flips, strict=True)]
            parts = gram_route(torch.stack(tall), kk, wants)
    except torch.linalg.LinAlgError:
        return {n: _decompose_one(n, W, kk, wants) for n, W in zip(names, mats, strict=True)}
    dtype = _working_dtype(mats[0]).dtype
    pairs = enumerate(zip(names, flips, strict=True))
    return {n: _spectrum(parts, i, dtype, flip) for i, (n, flip) in pairs}


def _spectrum(parts: Parts, i: int, dtype: torch.dtype, flip: bool = False) -> Spectrum:
    s, U, V = parts
    if U is None or V is None:
        return Spectrum(s[i].to(dtype))
    U_i, V_i = (V[i], U[i]) if flip else (U[i], V[i])
    return Spectrum(s[i].to(dtype), U_i.to(dtype), V_i.to(dtype))


def _decompose_one(name: str, W: Tensor, k: int, wants: bool) -> Spectrum:
    """Fallbacks for one matrix whose batch failed: gesvd on CUDA, then float64 on CPU."""
    attempts: list[tuple[Tensor, str | None]] = []
    if W.is_cuda:
        attempts.append((_working_dtype(W).unsqueeze(0), "gesvd"))
    attempts.append((W.detach().to("cpu", torch.float64).unsqueeze(0), None))
    for X, driver in attempts:
        try:
            parts = svd_route(X, k, wants, driver)
        except torch.linalg.LinAlgError:
            continue
        s, U, V = parts
        moved = (s.to(W.device), _to(U, W.device), _to(V, W.device))
        return _spectrum(moved, 0, _working_dtype(W).dtype)
    shape = "x".join(map(str, W.shape))
    raise SVDError(f"SVD of matrix '{name}' ({shape}) did not converge, even in float64")


def _to(X: Tensor | None, device: torch.device) -> Tensor | None:
    return None if X is None else X.to(device)
