"""The +- std band of the multi-seed panels: arithmetic on linear axes, geometric on log axes."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from specdyn.figures.seeds import band

# 3 seeds x 3 steps of a loss spanning decades, as grokking's train loss does
LOSSES = np.array([[1.0, 1e-3, 1e-6], [1.0, 1e-1, 1e-2], [1.0, 1e-2, 1e-4]])


def _drawn(log: bool) -> tuple[np.ndarray, np.ndarray]:
    ax = Figure().subplots()
    band(ax, np.arange(3.0), LOSSES, "loss", log=log)
    (poly,) = ax.collections
    return np.asarray(ax.lines[0].get_ydata()), poly.get_paths()[0].vertices[:, 1]


def test_a_log_band_is_the_geometric_mean_and_std_and_stays_positive():
    line, edge = _drawn(log=True)
    logs = np.log10(LOSSES)
    assert np.allclose(line, [1.0, 1e-2, 1e-4])  # 10 ** mean(log10), seed by seed
    spread = logs.std(axis=0, ddof=1)
    expected = np.concatenate([10 ** (logs.mean(0) - spread), 10 ** (logs.mean(0) + spread)])
    assert edge.min() > 0
    assert np.allclose(np.sort(np.unique(edge)), np.sort(np.unique(expected)))


def test_a_linear_band_is_the_mean_and_std_and_may_cross_zero():
    line, edge = _drawn(log=False)
    assert np.allclose(line, LOSSES.mean(axis=0))
    assert edge.min() < 0  # what a log axis cannot show: hence the geometric band there
