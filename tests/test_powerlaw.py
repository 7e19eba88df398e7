"""Single-checkpoint diagnostics: the power-law fit as WeightWatcher does it, MP outliers,
rand_distance; and an optional cross-check against WeightWatcher itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from specdyn.spectral import powerlaw


def _ww_fit_loop(evals: np.ndarray) -> tuple[float, float]:
    """WeightWatcher's WWFit (standard branch), written as its plain loop, in numpy."""
    data = np.sort(evals[evals > 1e-5])
    N = len(data)
    logd = np.log(data)
    alphas, Ds = np.zeros(N - 1), np.ones(N - 1)
    for i, xmin in enumerate(data[:-1]):
        n = float(N - i)
        alphas[i] = 1 + n / (np.sum(logd[i:]) - n * logd[i])
        if alphas[i] > 1:
            fit = 1 - (data[i:] / xmin) ** (-alphas[i] + 1)
            Ds[i] = np.max(np.abs(fit - np.arange(n) / n))
    i = int(np.argmin(Ds))
    return alphas[i], data[i]


@pytest.mark.parametrize("shape", [(60, 40), (300, 120), (64, 64)])
def test_fit_matches_the_reference_loop(shape):
    torch.manual_seed(sum(shape))
    W = torch.randn(*shape, dtype=torch.float64) @ torch.diag(
        torch.rand(shape[1], dtype=torch.float64) ** 3 + 0.01
    )
    s = torch.linalg.svdvals(W)
    fit = powerlaw.fit_powerlaw(s)
    alpha, xmin = _ww_fit_loop(s.numpy() ** 2)
    assert fit.alpha == pytest.approx(alpha, rel=1e-9) and fit.xmin == pytest.approx(xmin)


def test_fit_recovers_a_known_exponent():
    gen = torch.Generator().manual_seed(0)
    alpha, xmin = 3.0, 0.5
    x = xmin * torch.rand(4000, generator=gen, dtype=torch.float64) ** (-1 / (alpha - 1))
    fit = powerlaw.fit_powerlaw(x.sqrt())  # eigenvalues are s^2
    assert fit.alpha == pytest.approx(alpha, rel=0.05)
    assert fit.sigma == pytest.approx((fit.alpha - 1) / math.sqrt(fit.n_tail))


def test_small_spectra_use_the_small_sample_fit():
    s = torch.linspace(1.0, 3.0, 12, dtype=torch.float64)
    fit = powerlaw.fit_powerlaw(s)
    assert fit.n_tail >= powerlaw.SMALL_N_MIN_TAIL and fit.alpha > 1
    with pytest.raises(ValueError, match="needs >= 2 eigenvalues"):
        powerlaw.fit_powerlaw(torch.tensor([1.0, 1e-4]))


def test_norms_against_numpy():
    torch.manual_seed(0)
    W = torch.randn(30, 20, dtype=torch.float64)
    s = torch.linalg.svdvals(W)
    lam = np.linalg.eigvalsh((W.T @ W).numpy())
    assert powerlaw.log_spectral_norm(s) == pytest.approx(np.log10(lam.max()))
    assert powerlaw.log_norm(s) == pytest.approx(np.log10(lam.sum()))
    assert powerlaw.alpha_weighted(2.5, s) == pytest.approx(2.5 * np.log10(lam.max()))
    assert powerlaw.log_alpha_norm(2.5, s) == pytest.approx(np.log10(np.sum(lam**2.5)))


def test_mp_outliers_counts_planted_spikes_only():
    gen = torch.Generator().manual_seed(3)
    m, n = 400, 200
    noise = torch.randn(m, n, generator=gen, dtype=torch.float64) * 0.1
    assert powerlaw.mp_outliers(torch.linalg.svdvals(noise), (m, n)) == 0
    U = torch.linalg.qr(torch.randn(m, 3, generator=gen, dtype=torch.float64))[0]
    V = torch.linalg.qr(torch.randn(n, 3, generator=gen, dtype=torch.float64))[0]
    spikes = U @ torch.diag(torch.tensor([20.0, 10.0, 6.0], dtype=torch.float64)) @ V.T
    s = torch.linalg.svdvals(noise + spikes)
    assert powerlaw.mp_outliers(s, (m, n)) == 3
    assert powerlaw.mp_outliers(s, (n, m)) == 3  # the edge is symmetric in the shape


def _shuffled_distance(W: torch.Tensor) -> float:
    """WeightWatcher's way: the JS distance to the ESD of W with its entries shuffled."""
    flat = W.flatten()[torch.randperm(W.numel(), generator=torch.Generator().manual_seed(0))]
    p = np.sort(torch.linalg.svdvals(W).numpy() ** 2)
    q = np.sort(torch.linalg.svdvals(flat.view_as(W)).numpy() ** 2)
    p, q = p / p.sum(), q / q.sum()
    mid = (p + q) / 2
    kl = lambda a: np.sum(a * np.log(a / mid))  # noqa: E731
    return float(np.sqrt((kl(p) + kl(q)) / 2))


def test_rand_distance_is_small_for_noise_and_large_for_structure():
    gen = torch.Generator().manual_seed(1)
    noise = torch.randn(300, 200, generator=gen, dtype=torch.float64)
    low_rank = noise[:, :4] @ torch.randn(4, 200, generator=gen, dtype=torch.float64)
    d_noise = powerlaw.rand_distance(torch.linalg.svdvals(noise), (300, 200))
    d_low = powerlaw.rand_distance(torch.linalg.svdvals(low_rank), (300, 200))
    assert d_noise < 0.03 and d_low > 0.3
    for W, d in ((noise, d_noise), (low_rank, d_low)):  # close to the shuffled-SVD value
        assert d == pytest.approx(_shuffled_distance(W), abs=0.03)


class _Zoo(nn.Module):
    """Linear and Embedding (WeightWatcher fits them) next to layers it skips."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(300, 64)
        self.attn = nn.MultiheadAttention(64, 4)
        self.lstm = nn.LSTM(64, 32)
        self.fc1 = nn.Linear(64, 160)
        self.fc2 = nn.Linear(160, 48)
        self.fc3 = nn.Linear(48, 10)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_alpha_agrees_with_weightwatcher():
    ww = pytest.importorskip("weightwatcher")
    from specdyn.spectral.matrices import weight_matrices
    from specdyn.spectral.svd import decompose

    torch.manual_seed(0)
    model = _Zoo()
    with torch.no_grad():  # heavier tails than a fresh init, as in trained layers
        for p in (model.fc1.weight, model.fc2.weight, model.embed.weight):
            p.mul_(torch.rand_like(p) ** 4 * 3)
    details = ww.WeightWatcher(model=model).analyze()
    ours = decompose(weight_matrices(model), vectors=False)
    fitted = {"embed", "attn.out_proj", "fc1", "fc2", "fc3"}  # Linear and Embedding
    assert len(details) == len(fitted)  # the same layer count for the types both support
    for row in details.itertuples():
        name = row.longname
        assert name in fitted
        alpha = powerlaw.fit_powerlaw(ours[name].s).alpha
        assert alpha == pytest.approx(row.alpha, rel=0.05), name
        lsn = powerlaw.log_spectral_norm(ours[name].s)
        assert lsn == pytest.approx(row.log_spectral_norm, rel=1e-3), name
    skipped = set(ours) - fitted  # MultiheadAttention's in_proj (and q, k, v), LSTM weights
    assert {"attn.in_proj_weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0.g"} <= skipped
