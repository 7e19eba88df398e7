"""The SVD engine: one decomposition per matrix, shared by every metric.

Matrices of the same shape are stacked and decomposed in one batched call. Only the top-k
singular vectors are kept; matrices that need no vectors get ``svdvals`` only. A batch that
fails to converge is retried matrix by matrix, on CPU, in float64 (and, on CUDA, first with
the ``gesvd`` driver), so a failure names the matrix it came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from specdyn.errors import NonFiniteMatrixError, SVDError


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


def check_finite(name: str, W: Tensor) -> None:
    """Raise NonFiniteMatrixError naming ``name`` if W holds NaN or Inf."""
    if not bool(torch.isfinite(W).all()):
        shape = "x".join(map(str, W.shape))
        raise NonFiniteMatrixError(f"matrix '{name}' ({shape}) has NaN or Inf entries")


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
        groups[(tuple(W.shape), W.dtype, W.device, wants)].append(name)
    out: dict[str, Spectrum] = {}
    for (_, _, _, wants), names in groups.items():
        stack = torch.stack([_working_dtype(matrices[n]) for n in names])  # (b, m, n)
        out.update(_decompose_group(names, stack, k, wants))
    return {name: out[name] for name in matrices}


def _working_dtype(W: Tensor) -> Tensor:
    return W if W.dtype == torch.float64 else W.float()


def _decompose_group(names: list[str], stack: Tensor, k: int | None, wants: bool):
    try:
        parts = _svd(stack, wants)
    except torch.linalg.LinAlgError:
        return {n: _decompose_one(n, W, k, wants) for n, W in zip(names, stack, strict=True)}
    return {n: _spectrum(parts, i, k) for i, n in enumerate(names)}


def _svd(X: Tensor, wants: bool, driver: str | None = None):
    if not wants:
        return (torch.linalg.svdvals(X, driver=driver),)
    U, s, Vh = torch.linalg.svd(X, full_matrices=False, driver=driver)
    return s, U, Vh.mT


def _spectrum(parts: tuple[Tensor, ...], i: int, k: int | None) -> Spectrum:
    if len(parts) == 1:
        return Spectrum(parts[0][i])
    s, U, V = parts
    return Spectrum(s[i], U[i, :, :k], V[i, :, :k])


def _decompose_one(name: str, W: Tensor, k: int | None, wants: bool) -> Spectrum:
    """Fallbacks for one matrix whose batch failed: gesvd on CUDA, then float64 on CPU."""
    attempts = [(W.unsqueeze(0), "gesvd")] if W.is_cuda else []
    attempts.append((W.detach().to("cpu", torch.float64).unsqueeze(0), None))
    for X, driver in attempts:
        try:
            parts = _svd(X, wants, driver)
        except torch.linalg.LinAlgError:
            continue
        parts = tuple(p.to(W.device, W.dtype) for p in parts)
        return _spectrum(parts, 0, k)
    shape = "x".join(map(str, W.shape))
    raise SVDError(f"SVD of matrix '{name}' ({shape}) did not converge, even in float64")
