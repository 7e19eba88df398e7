"""The loss barrier of linear mode connectivity (paper Eq. 6, Appendix A.9)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ALPHAS = tuple(float(a) for a in np.linspace(0.0, 1.0, 11))


def barrier(alphas: Sequence[float], values: Sequence[float]) -> float:
    """max over alpha of L(alpha) - ((1 - alpha) L(0) + alpha L(1)).

    ``values[i]`` is the loss (or error) of the interpolated weights at ``alphas[i]``;
    alphas must start at 0 and end at 1. Can be slightly negative (reported as computed).
    """
    a = np.asarray(alphas, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if a.shape != v.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"alphas {a.shape} and values {v.shape} must be equal 1-D sequences")
    if a[0] != 0.0 or a[-1] != 1.0:
        raise ValueError(f"alphas must run from 0 to 1, got {a[0]} .. {a[-1]}")
    linear = (1 - a) * v[0] + a * v[-1]
    return float(np.max(v - linear))
