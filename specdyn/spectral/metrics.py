"""Spectral metrics: pure functions of singular values and singular vectors.

Every function accepts leading batch dimensions ``(...)``. Singular values ``s`` are
``(..., r)``; singular vectors are columns: ``U`` is ``(..., m, r)`` and ``V`` is ``(..., n, r)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from specdyn.spectral.scores import SCORE_K


def effective_rank(s: Tensor) -> Tensor:
    """exp(-sum p_i log p_i) with p = s / sum(s) (Roy & Vetterli 2007; paper Eq. 1).

    s: (..., r) non-negative singular values. Returns (...). Lies in [1, r]; 0 log 0 = 0.
    An all-zero spectrum has no effective rank and raises ValueError.
    """
    total = s.sum(-1, keepdim=True)
    if bool((total <= 0).any()):
        raise ValueError(f"effective rank of an all-zero spectrum is undefined (s: {_shape(s)})")
    p = s / total
    entropy = -torch.special.xlogy(p, p).sum(-1)
    return entropy.exp()


def normalized_effective_rank(s: Tensor) -> Tensor:
    """effective_rank(s) / r, with r = s.shape[-1] (paper Eq. 2). In [1/r, 1]."""
    return effective_rank(s) / s.shape[-1]


def spectral_norm(s: Tensor) -> Tensor:
    """Largest singular value. s: (..., r) -> (...)."""
    return s.amax(-1)


def frobenius_norm(s: Tensor) -> Tensor:
    """sqrt(sum s_i^2). s: (..., r) -> (...)."""
    return torch.linalg.vector_norm(s, dim=-1)


def stable_rank(s: Tensor) -> Tensor:
    """||W||_F^2 / ||W||_2^2 = sum s_i^2 / max s_i^2. s: (..., r) -> (...). In [1, r]."""
    top = spectral_norm(s)
    if bool((top <= 0).any()):
        raise ValueError(f"stable rank of an all-zero spectrum is undefined (s: {_shape(s)})")
    return frobenius_norm(s).square() / top.square()


def alignment_matrix(U_prev: Tensor, V_next: Tensor, k: int = 100) -> Tensor:
    """|U_prev[:, :k]^T V_next[:, :k]| (paper Eq. 3).

    U_prev: (..., d, r1) left singular vectors of layer i (its output space).
    V_next: (..., d, r2) right singular vectors of layer i+1 (its input space).
    Returns (..., min(k, r1), min(k, r2)); entry (j, l) = |<u_j, v'_l>|.
    """
    if U_prev.shape[-2] != V_next.shape[-2]:
        raise ValueError(
            f"alignment needs vectors of one dimension: U_prev {_shape(U_prev)} "
            f"has {U_prev.shape[-2]}, V_next {_shape(V_next)} has {V_next.shape[-2]}"
        )
    return (U_prev[..., :k].mT @ V_next[..., :k]).abs()


def agreement_matrix(U_a: Tensor, V_a: Tensor, U_b: Tensor, V_b: Tensor, k: int = 100) -> Tensor:
    """|U_a^T U_b| * |V_a^T V_b| elementwise on the top-k (paper Eq. 5).

    Entry (j, l) is |<u_j v_j^T, u'_l v'_l^T>| (Frobenius inner product of rank-1 terms).
    U_a, U_b: (..., m, r); V_a, V_b: (..., n, r). Returns (..., k', k').
    """
    for x, y, side in ((U_a, U_b, "U"), (V_a, V_b, "V")):
        if x.shape[-2] != y.shape[-2]:
            raise ValueError(f"agreement: {side}_a {_shape(x)} and {side}_b {_shape(y)} differ")
    left = (U_a[..., :k].mT @ U_b[..., :k]).abs()
    right = (V_a[..., :k].mT @ V_b[..., :k]).abs()
    return left * right


def top_score(M: Tensor, k: int = SCORE_K) -> Tensor:
    """Mean of the first k diagonal entries of M (paper Eq. 4). M: (..., a, b) -> (...)."""
    return M.diagonal(dim1=-2, dim2=-1)[..., :k].mean(-1)


def _shape(x: Tensor) -> str:
    return "x".join(map(str, x.shape)) or "scalar"


__all__ = [
    "effective_rank",
    "normalized_effective_rank",
    "spectral_norm",
    "frobenius_norm",
    "stable_rank",
    "alignment_matrix",
    "agreement_matrix",
    "top_score",
]
