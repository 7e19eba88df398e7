"""Parity with the real WeightWatcher 0.7.7 (the ``test`` extra installs it): ``alpha`` is
its reported value and ``num_spikes`` its spike count, on held-out sizes from 8 to 4096
eigenvalues; ``mp_outliers`` is specdyn's own estimator, under its own name."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

import numpy as np
import pytest
import torch

from specdyn.spectral import mp_fit, powerlaw

with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
    warnings.simplefilter("ignore")  # its import prints and warns about optional packages
    import weightwatcher
    from weightwatcher.RMT_Util import fit_density_with_range
    from weightwatcher.WW_powerlaw import WWFit


@pytest.fixture(autouse=True)
def quiet():
    """WeightWatcher prints ("SMALL N PL FIT") and logs on every fit."""
    logging.disable(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield
    logging.disable(logging.NOTSET)


def _spectrum(n: int, kind: str, seed: int) -> np.ndarray:
    """n eigenvalues of a random (2n, n) matrix: Gaussian, heavy-tailed or spiked. Beyond
    LARGE eigenvalues, a synthetic one (no SVD): the Marchenko-Pastur quantiles of a (2n, n)
    Gaussian matrix, with a Pareto tail for ``heavy`` and two spikes for ``spiked``."""
    rng = np.random.default_rng(seed)
    if n > LARGE:
        evals = powerlaw.mp_quantiles(0.5, n).numpy() * 2 * n * rng.uniform(0.98, 1.02, n)
        if kind == "heavy":
            evals[-(n // 10) :] *= 1 + rng.pareto(1.5, n // 10)
        if kind == "spiked":
            evals[-2:] *= 8
        return np.sort(evals)
    W = rng.standard_t(2.2, (2 * n, n)) if kind == "heavy" else rng.standard_normal((2 * n, n))
    if kind == "spiked":
        W += 4 * rng.standard_normal((2 * n, 2)) @ rng.standard_normal((2, n)) / np.sqrt(n)
    return np.sort(np.linalg.svd(W, compute_uv=False) ** 2)


LARGE = 512
SIZES = [8, 9, 11, 13, 16, 19, 20, 23, 57, 300, 4096]  # none of them is used elsewhere


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", ["gaussian", "heavy"])
def test_alpha_is_weightwatchers_reported_value(n, kind):
    if n == 4096 and kind == "gaussian":
        pytest.skip("one 4096-eigenvalue spectrum is enough")
    evals = _spectrum(n, kind, seed=n)
    want = WWFit(evals[evals > powerlaw.EVALS_THRESH]).alpha
    got = powerlaw.fit_powerlaw(torch.from_numpy(np.sqrt(evals))).alpha
    assert got == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize(
    ("n", "kind"),
    [(8, "heavy"), (19, "spiked"), (64, "heavy"), (300, "spiked"), (300, "heavy"), (4096, "heavy")],
)
def test_num_spikes_is_weightwatchers_count(n, kind):
    evals = _spectrum(n, kind, seed=n + 1)
    s = torch.from_numpy(np.sqrt(evals[::-1].copy()))
    big, small = 2 * n, n
    Q = big / small
    scaled = evals * (small / evals.sum())  # its mp_fit, step by step, with its own fit
    sigma = fit_density_with_range(scaled, Q, bw=0.1)[0]
    bulk_max = (sigma * (1 + 1 / np.sqrt(Q))) ** 2
    tw = 1 / np.sqrt(Q) * bulk_max ** (2 / 3) * small ** (-2 / 3)
    assert mp_fit.num_spikes(s, (big, small)) == int((scaled > bulk_max + np.sqrt(tw)).sum())


def test_analyze_of_the_real_package_agrees_layer_by_layer():
    """WeightWatcher.analyze on a model with square, tall and wide layers; Q = 1 included."""
    torch.manual_seed(3)
    shapes = [(30, 8), (12, 12), (19, 40), (150, 60)]  # (out, in)
    layers = [torch.nn.Linear(n_in, n_out, bias=False) for n_out, n_in in shapes]
    with torch.no_grad():
        layers[-1].weight.copy_(torch.distributions.StudentT(2.5).sample((150, 60)))
    table = weightwatcher.WeightWatcher(model=torch.nn.Sequential(*layers)).analyze(mp_fit=True)
    for layer, row in zip(layers, table.itertuples(), strict=True):
        W = layer.weight.detach().double()
        s = torch.linalg.svdvals(W)
        assert powerlaw.fit_powerlaw(s).alpha == pytest.approx(row.alpha, rel=1e-7)
        assert mp_fit.num_spikes(s, tuple(W.shape)) == row.num_spikes


def test_mp_outliers_is_specdyns_own_count_equal_on_planted_spikes():
    rng = np.random.default_rng(0)
    m, n = 400, 200
    W = (
        rng.standard_normal((m, n))
        + 3
        * (rng.standard_normal((m, 3)) @ rng.standard_normal((3, n)))
        / np.sqrt(n)
        * np.sqrt(m)
        / 4
    )
    s = torch.linalg.svdvals(torch.from_numpy(W))
    assert powerlaw.mp_outliers(s, (m, n)) == mp_fit.num_spikes(s, (m, n)) == 3
