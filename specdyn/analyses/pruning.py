"""Half-SVD pruning (paper Section 4, Figure 4) from a given decomposition.

A matrix W = U diag(s) V^T is split into its top ceil(r * fraction) components and the rest,
with r = min(m, n). Only the top ``cut`` singular vectors are needed: the bottom part is
W minus the top part, so a recorder that kept the top-k vectors (k >= cut) is enough;
with all r vectors the bottom part is built from its own components (more exact in rank).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor


def cut_of(r: int, fraction: float) -> int:
    """ceil(r * fraction), exact for decimal fractions (50 * 0.14 is 7.000000000000001)."""
    if not 0.0 <= fraction <= 1.0:  # also refuses NaN
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    return math.ceil(round(r * fraction, 9))


def half_svd(
    W: Tensor, U: Tensor, s: Tensor, V: Tensor, fraction: float = 0.5
) -> tuple[Tensor, Tensor]:
    """(top, bottom) of W from its decomposition; top + bottom == W.

    W: (..., m, n). s: (..., r) descending, r = min(m, n). U: (..., m, k), V: (..., n, k)
    with k >= ceil(r * fraction) leading singular vectors (more are ignored).
    """
    r = min(W.shape[-2], W.shape[-1])
    if s.shape[-1] != r:
        raise ValueError(f"s {tuple(s.shape)} must hold all r={r} singular values of W")
    cut = cut_of(r, fraction)
    if U.shape[-1] < cut or V.shape[-1] < cut:
        raise ValueError(
            f"pruning to {cut} components needs that many vectors; U {tuple(U.shape)}, "
            f"V {tuple(V.shape)}"
        )
    top = (U[..., :cut] * s[..., None, :cut]) @ V[..., :cut].mT
    if U.shape[-1] < r or V.shape[-1] < r:
        return top, W - top  # top-k vectors only: the bottom is the rest of W
    bottom = (U[..., cut:r] * s[..., None, cut:]) @ V[..., cut:r].mT
    return top, bottom


def svd_prune(W: Tensor, keep: Literal["top", "bottom"] = "top", fraction: float = 0.5) -> Tensor:
    """W rebuilt from its top ceil(r * fraction) SVD components, or from the remaining ones.

    W: (..., m, n), r = min(m, n). keep="top" keeps the largest ceil(r * fraction)
    components; keep="bottom" keeps the others, so top + bottom == W. Decomposes W; use
    :func:`half_svd` when a decomposition is at hand.
    """
    if keep not in ("top", "bottom"):
        raise ValueError(f"keep must be 'top' or 'bottom', got {keep!r}")
    cut_of(1, fraction)  # validate before the SVD
    U, s, Vh = torch.linalg.svd(W, full_matrices=False)
    top, bottom = half_svd(W, U, s, Vh.mT, fraction)
    return top if keep == "top" else bottom


__all__ = ["cut_of", "half_svd", "svd_prune"]
