"""A fast decomposition for one matrix read from disk: eigh of its smaller Gram matrix.

For W (m, n) with r = min(m, n), the eigenvalues of the (r, r) Gram matrix (W W^T or
W^T W, in float64) are s^2, and its eigenvectors are U (or V); the top-k vectors of the
other side follow as W^T U / s (or W V / s). On a CPU this costs a fraction of an SVD with
vectors (measured in docs/benchmarks.md). In float64 the singular values carry a relative
error near 1e-16 * (s_max / s_i)^2: exact to float32 precision for every s_i above
1e-4 * s_max; smaller ones are accurate in absolute, not relative, terms.
"""

from __future__ import annotations

import torch
from torch import Tensor

from specdyn.errors import NonFiniteMatrixError
from specdyn.spectral.svd import Spectrum, all_finite


def gram_decompose(name: str, W: Tensor, k: int | None = 100) -> Spectrum:
    """Spectrum of the (m, n) matrix ``W``: all r singular values (descending) and the
    top-k singular vectors (none for k = 0), in W's float dtype (float32 unless W is
    float64)."""
    if W.ndim != 2:
        raise ValueError(f"matrix '{name}' must be 2-D, got shape {tuple(W.shape)}")
    dtype = torch.float64 if W.dtype == torch.float64 else torch.float32
    X = W.detach().to(torch.float64)
    wide = X.shape[0] <= X.shape[1]  # Gram of the smaller side: (r, r)
    G = X @ X.T if wide else X.T @ X
    if not all_finite(G):  # NaN or Inf in W reach G; G is the smaller
        shape = "x".join(map(str, W.shape))
        raise NonFiniteMatrixError(f"matrix '{name}' ({shape}) has NaN or Inf entries")
    r = G.shape[0]
    keep = r if k is None else min(k, r)
    if keep == 0:  # values only: eigvalsh costs about two thirds of eigh
        values = torch.linalg.eigvalsh(G).flip(0).clamp_min(0).sqrt()
        return Spectrum(values.to(dtype))
    evals, near = _top_eigh(G, keep)  # all eigenvalues descending; (r, k) top vectors
    s = evals.clamp_min(0).sqrt()  # near: U when wide, else V
    far = (X.T @ near if wide else X @ near) / s[:keep].clamp_min(1e-300)
    U, V = (near, far) if wide else (far, near)
    return Spectrum(s.to(dtype), U.to(dtype), V.to(dtype))


def _top_eigh(G: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """All eigenvalues of the symmetric G, descending, and its top-k eigenvectors (r, k)."""
    evals, vecs = torch.linalg.eigh(G)  # ascending
    return evals.flip(0), vecs.flip(1)[:, :k]
