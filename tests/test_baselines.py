"""Random-matrix baselines: each agrees with an independent Monte Carlo over 200 random
matrices (or pairs of bases) within 3 standard errors, for square, tall and wide shapes
and for k below and equal to the rank; a run reads them for its own matrices."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import specdyn
from specdyn.spectral import baselines as b
from specdyn.spectral import metrics, powerlaw
from specdyn.spectral import registry as registry_module
from specdyn.spectral.scores import score_k

DRAWS = 200
SHAPES = [(12, 12), (20, 8), (8, 20)]  # square, tall, wide


def _monte_carlo(values: list[float]) -> tuple[float, float]:
    """(mean, standard error) of independent draws."""
    x = torch.tensor(values, dtype=torch.float64)
    return float(x.mean()), float(x.std()) / math.sqrt(len(values))


def _agree(baseline: b.Baseline, values: list[float]) -> None:
    mean, se = _monte_carlo(values)
    se_baseline = baseline.std / math.sqrt(baseline.samples) if baseline.samples else 0.0
    tolerance = 3 * math.hypot(se, se_baseline)
    assert abs(baseline.mean - mean) <= tolerance, (baseline, mean, se)


def _gaussians(shape, seed=12345):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(DRAWS)]


SCALE_FREE = {
    "normalized_effective_rank": metrics.normalized_effective_rank,
    "effective_rank": metrics.effective_rank,
    "stable_rank": metrics.stable_rank,
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(SCALE_FREE))
def test_rank_baselines_match_a_monte_carlo(shape, name):
    fn = b.MATRIX_METRICS[name][0]
    got = b.matrix_baseline(fn, shape, k=min(shape))
    _agree(got, [float(SCALE_FREE[name](torch.linalg.svdvals(G))) for G in _gaussians(shape)])


@pytest.mark.parametrize("shape", SHAPES)
def test_scaled_and_power_law_baselines_match_a_monte_carlo(shape):
    sigma = 0.3
    got = b.matrix_baseline(b.MATRIX_METRICS["spectral_norm"][0], shape, 4, sigma)
    _agree(got, [float(torch.linalg.matrix_norm(sigma * G, 2)) for G in _gaussians(shape)])
    alpha = b.matrix_baseline(
        b.MATRIX_METRICS["alpha"][0], shape, 4, samples=b.FIT_SAMPLES["alpha"]
    )
    fits = [powerlaw.fit_powerlaw(torch.linalg.svdvals(G)).alpha for G in _gaussians(shape)]
    _agree(alpha, fits)


def _bases(dim, k, generator):
    Q, _ = torch.linalg.qr(torch.randn(dim, k, generator=generator, dtype=torch.float64))
    return Q


@pytest.mark.parametrize(("dim", "k"), [(16, 10), (24, 3), (8, 8)])  # k < and = the rank
def test_alignment_baseline_matches_random_bases(dim, k):
    g = torch.Generator().manual_seed(7)
    scores = []
    for _ in range(DRAWS):
        A, B = _bases(dim, k, g), _bases(dim, k, g)
        scores.append(float(metrics.top_score(metrics.alignment_matrix(A, B, k), k)))
    got = b.alignment_baseline(dim, k)
    _agree(got, scores)
    assert got.std == pytest.approx(_monte_carlo(scores)[1] * math.sqrt(DRAWS), rel=0.25)


@pytest.mark.parametrize(("shape", "k"), [((12, 12), 10), ((12, 12), 12), ((20, 8), 8)])
def test_agreement_baseline_matches_random_singular_vectors(shape, k):
    g = torch.Generator().manual_seed(9)  # fixed: the test is deterministic
    m, n = shape
    scores = []
    for _ in range(DRAWS):
        U_a, U_b, V_a, V_b = _bases(m, k, g), _bases(m, k, g), _bases(n, k, g), _bases(n, k, g)
        M = metrics.agreement_matrix(U_a, V_a, U_b, V_b, k)
        scores.append(float(metrics.top_score(M, score_k(k))))
    _agree(b.agreement_baseline(shape, score_k(k)), scores)


def test_mean_abs_dot_is_exact():
    assert b.mean_abs_dot(1) == pytest.approx(1.0)
    assert b.mean_abs_dot(2) == pytest.approx(2 / math.pi)
    assert b.mean_abs_dot(3) == pytest.approx(0.5)


def test_mp_edge_is_the_top_of_a_large_random_spectrum():
    sigma, shape = 0.5, (400, 100)
    tops = [float(torch.linalg.matrix_norm(sigma * G, 2)) for G in _gaussians(shape)[:20]]
    assert b.mp_bulk_edge(shape, sigma) == pytest.approx(sum(tops) / len(tops), rel=0.03)


def test_a_run_reads_the_baselines_of_its_own_matrices(tmp_path, monkeypatch):
    monkeypatch.setattr(registry_module, "REGISTRY", {})

    @specdyn.metric("top1_share")
    def top1_share(sp):
        return float(sp.s[0] / sp.s.sum())

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 8))  # tall, wide
    pairs = [specdyn.Pair("0", "2")]
    rec = specdyn.Recorder(tmp_path / "run", schedule=1, pairs=pairs, top_k=8)
    for step in range(2):
        rec.step(step, model)
    rec.finish()
    run = specdyn.open_run(tmp_path / "run")
    assert run.shapes == {"0": ((20, 12), 8), "2": ((8, 20), 8)}
    rank = run.baseline("normalized_effective_rank", "0")
    fn = b.MATRIX_METRICS["normalized_effective_rank"][0]
    assert rank == b.matrix_baseline(fn, (20, 12), 8, scaled=False, vectors=False)
    assert run.baseline("agreement", "2").mean == pytest.approx(
        b.mean_abs_dot(8) * b.mean_abs_dot(20)
    )
    assert run.baseline("alignment", "0->2").mean == pytest.approx(b.mean_abs_dot(20))
    s = torch.from_numpy(run.singular_values("0")[1][-1]).double()
    sigma = math.sqrt(float(s.square().sum()) / (20 * 12))
    assert run.baseline("mp_bulk_edge", "0").mean == pytest.approx(sigma * (20**0.5 + 12**0.5))
    share = run.baseline("top1_share", "2")
    assert 0 < share.mean < 1 and share.samples == b.samples_for((8, 20))
    measured = run.metric_values("normalized_effective_rank")["0"]
    assert rank.distance(measured) == pytest.approx((measured - rank.mean) / rank.std)
    assert set(run.metrics.loc[run.metrics["metric"] == "alignment", "top_k"]) == {8}


def test_scores_say_their_k_when_fewer_than_10_vectors_are_kept(tmp_path):
    """Kept 4 vectors: the "top-10" scores average those 4 and their rows say top_k = 4."""
    from specdyn.cli.show_cmd import summary

    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 8))
    rec = specdyn.Recorder(tmp_path / "run", 1, pairs=[specdyn.Pair("0", "2")], top_k=4)
    for step in range(2):
        rec.step(step, model)
    rec.finish()
    run = specdyn.open_run(tmp_path / "run")
    scores = run.metrics[run.metrics["metric"].isin(["alignment", "agreement"])]
    assert set(scores["top_k"]) == {4}
    _, diag = run.alignment("0->2")
    assert run.metric_values("alignment")["0->2"] == pytest.approx(float(diag[-1].mean()))
    assert run.baseline("alignment", "0->2").how.endswith("top-4")
    assert "top-k scores with k = 4" in summary(run)
