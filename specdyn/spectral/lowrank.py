"""The exact SVD of a low-rank product, never forming it: a LoRA update ``scale * B A``.

For B (m, r) and A (r, n) with r << min(m, n), ``B = Q_B R_B`` and ``A^T = Q_A R_A`` (thin
QR), so ``scale * B A = Q_B (scale * R_B R_A^T) Q_A^T``: the SVD of the (r, r) core
``U_c S V_c^T`` gives the product's ``U = Q_B U_c``, ``s = S`` and ``V = Q_A V_c``. Everything
is float64; the cost is O((m + n) r^2) instead of O(m n min(m, n)). The product has rank at
most r: its other min(m, n) - r singular values are exact zeros, and only the top
min(k, r) vectors (those of non-zero values) are returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from specdyn.errors import NonFiniteMatrixError
from specdyn.spectral.svd import Spectrum, all_finite


@dataclass(frozen=True)
class LowRank:
    """The (m, n) matrix ``scale * B @ A``; B: (m, r), A: (r, n)."""

    B: Tensor
    A: Tensor
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.B.ndim != 2 or self.A.ndim != 2 or self.B.shape[1] != self.A.shape[0]:
            raise ValueError(
                f"a low-rank product needs B (m, r) and A (r, n), got B {tuple(self.B.shape)} "
                f"and A {tuple(self.A.shape)}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.B.shape[0]), int(self.A.shape[1])

    def dense(self) -> Tensor:
        """The (m, n) product itself, float32 (float64 if either factor is)."""
        dtype = torch.promote_types(_working(self.B.dtype), _working(self.A.dtype))
        return self.scale * (self.B.to(dtype) @ self.A.to(dtype))


def lowrank_decompose(name: str, W: LowRank, k: int | None = 100) -> Spectrum:
    """Spectrum of ``W = scale * B A``: all min(m, n) singular values, descending (the
    last min(m, n) - r exactly zero), and the top min(k, r) singular vectors (none for
    k = 0); float32 unless a factor is float64."""
    for factor, label in ((W.B, "B"), (W.A, "A")):
        if not all_finite(factor):
            shape = "x".join(map(str, factor.shape))
            raise NonFiniteMatrixError(f"matrix '{name}' ({label}: {shape}) has NaN or Inf entries")
    dtype = torch.promote_types(_working(W.B.dtype), _working(W.A.dtype))
    QB, RB = torch.linalg.qr(W.B.double())  # (m, r), (r, r)
    QA, RA = torch.linalg.qr(W.A.double().T)  # (n, r), (r, r)
    Uc, sc, Vch = torch.linalg.svd(W.scale * (RB @ RA.T))  # (r, r) core
    m, n = W.shape
    s = torch.zeros(min(m, n), dtype=torch.float64)
    s[: sc.shape[0]] = sc.abs()
    keep = sc.shape[0] if k is None else min(k, sc.shape[0])
    if keep == 0:
        return Spectrum(s.to(dtype))
    U = QB @ Uc[:, :keep]
    V = QA @ Vch.mT[:, :keep]
    return Spectrum(s.to(dtype), U.to(dtype), V.to(dtype))


def _working(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32
