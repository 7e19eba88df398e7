"""The loss barrier of linear mode connectivity (paper Eq. 6, Appendix A.9), two ways.

``barrier``: Eq. 6 as printed, the maximum over every alpha of the gap between the
interpolated loss and the straight line between the endpoints. The endpoints' gap is 0,
so it is never below 0. The barrier tables' ``value`` column.

``interior_barrier``: the authors' ``compute_barrier`` (github dyunis/spectral_dynamics):
the same gap over the interior alphas only, so it can be negative (a path below the
line everywhere); their figures were drawn with it. The tables' ``interior`` column.
The two are equal whenever the interior maximum is positive.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ALPHAS = tuple(float(a) for a in np.linspace(0.0, 1.0, 11))


def barrier(alphas: Sequence[float], values: Sequence[float]) -> float:
    """Eq. 6: max over alpha of L(alpha) - ((1 - alpha) L(0) + alpha L(1)), endpoints
    included, so never below 0.

    ``values[i]`` is the loss (or error) of the interpolated weights at ``alphas[i]``;
    alphas must start at 0 and end at 1.
    """
    return float(np.max(_gaps(alphas, values)))


def interior_barrier(alphas: Sequence[float], values: Sequence[float]) -> float:
    """The authors' barrier: the gap of Eq. 6 maximised over the interior alphas only
    (alphas[1:-1]); can be negative. Needs at least three alphas."""
    gaps = _gaps(alphas, values)
    if len(gaps) < 3:
        raise ValueError(f"an interior barrier needs an alpha inside (0, 1), got {len(gaps)}")
    return float(np.max(gaps[1:-1]))


def _gaps(alphas: Sequence[float], values: Sequence[float]) -> np.ndarray:
    a = np.asarray(alphas, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if a.shape != v.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"alphas {a.shape} and values {v.shape} must be equal 1-D sequences")
    if a[0] != 0.0 or a[-1] != 1.0:
        raise ValueError(f"alphas must run from 0 to 1, got {a[0]} .. {a[-1]}")
    linear = (1 - a) * v[0] + a * v[-1]
    return v - linear
