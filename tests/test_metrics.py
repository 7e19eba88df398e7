"""specdyn.metrics against independent float64 numpy computations and their properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import specdyn.metrics as metrics
from specdyn.metrics import (
    agreement_matrix,
    alignment_matrix,
    effective_rank,
    frobenius_norm,
    normalized_effective_rank,
    spectral_norm,
    stable_rank,
    top_score,
)

# ----------------------------------------------------------------------------- helpers


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def gaussian(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return rng(seed).standard_normal(shape)


def orthogonal(n: int, seed: int = 0) -> np.ndarray:
    """A random n x n orthogonal matrix (QR of a Gaussian, signs fixed by R's diagonal)."""
    q, r = np.linalg.qr(gaussian((n, n), seed))
    return q * np.sign(np.diag(r))


def low_rank(m: int, n: int, r: int, seed: int = 0) -> np.ndarray:
    """A rank-r (m, n) matrix: product of (m, r) and (r, n) Gaussians."""
    return gaussian((m, r), seed) @ gaussian((r, n), seed + 1)


def np_svdvals(W: np.ndarray) -> np.ndarray:
    return np.linalg.svd(W, compute_uv=False)


def np_effective_rank(s: np.ndarray) -> float:
    """exp of the Shannon entropy of p = s / sum(s), with 0 log 0 = 0."""
    p = np.asarray(s, dtype=np.float64) / np.sum(s)
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


def test_all_exports_are_checked():
    assert set(metrics.__all__) == {
        "effective_rank",
        "normalized_effective_rank",
        "spectral_norm",
        "frobenius_norm",
        "stable_rank",
        "alignment_matrix",
        "agreement_matrix",
        "top_score",
    }


# ----------------------------------------------------------------------- effective rank


@pytest.mark.parametrize("shape", [(8, 8), (12, 5), (5, 12), (30, 20)])
def test_effective_rank_matches_numpy(shape):
    s = np_svdvals(gaussian(shape, seed=sum(shape)))
    got = effective_rank(t(s))
    assert got.dtype == torch.float64
    assert got.shape == ()
    assert got.item() == pytest.approx(np_effective_rank(s), rel=1e-12)


def test_effective_rank_matches_numpy_float32():
    s = np_svdvals(gaussian((16, 9), seed=3))
    got = effective_rank(t(s).float())
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(np_effective_rank(s), rel=1e-5)


@pytest.mark.parametrize("r", [1, 2, 3, 7])
def test_effective_rank_of_rank_r_matrix_is_at_most_r(r):
    s = np_svdvals(low_rank(20, 15, r, seed=r))
    # The spectrum holds r nonzero values and 15 - r round-off values (~1e-15).
    assert np.sum(s > 1e-8 * s[0]) == r
    erank = effective_rank(t(s)).item()
    assert 1.0 <= erank <= r + 1e-9
    assert erank == pytest.approx(np_effective_rank(s), rel=1e-10)


@pytest.mark.parametrize("r", [1, 2, 5, 16])
def test_effective_rank_of_r_equal_values_is_exactly_r(r):
    s = torch.full((r,), 2.5, dtype=torch.float64)
    assert effective_rank(s).item() == pytest.approx(r, rel=1e-12)
    # Padding with zeros changes nothing (0 log 0 = 0) but halves the normalized rank.
    padded = torch.cat([s, torch.zeros(r, dtype=torch.float64)])
    assert effective_rank(padded).item() == pytest.approx(r, rel=1e-12)
    assert normalized_effective_rank(padded).item() == pytest.approx(0.5, rel=1e-12)


def test_effective_rank_with_zeros_is_finite():
    s = torch.tensor([3.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    assert effective_rank(s).item() == 1.0
    s = torch.tensor([1.0, 2.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    got = effective_rank(s)
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(np_effective_rank(s.numpy()), rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_effective_rank_bounds(seed):
    r = 3 + seed
    s = np.abs(gaussian((r,), seed)) ** 3  # spread-out spectrum
    erank = effective_rank(t(s)).item()
    assert 1.0 - 1e-12 <= erank <= r + 1e-12
    nerank = normalized_effective_rank(t(s)).item()
    assert 1.0 / r - 1e-12 <= nerank <= 1.0 + 1e-12


@pytest.mark.parametrize("s", [[0.0, 0.0, 0.0], [0.0]])
def test_effective_rank_of_all_zero_spectrum_raises(s):
    with pytest.raises(ValueError, match="all-zero"):
        effective_rank(torch.tensor(s, dtype=torch.float64))
    with pytest.raises(ValueError):
        normalized_effective_rank(torch.tensor(s, dtype=torch.float64))


def test_effective_rank_raises_if_any_batch_item_is_all_zero():
    s = torch.rand(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    s[1] = 0.0
    with pytest.raises(ValueError):
        effective_rank(s)


def test_normalized_effective_rank_is_effective_rank_over_length():
    for n in (1, 4, 9):
        s = t(np_svdvals(gaussian((n, n + 2), seed=n)))
        assert torch.allclose(normalized_effective_rank(s), effective_rank(s) / n, rtol=1e-14)
        assert normalized_effective_rank(s).item() == pytest.approx(
            np_effective_rank(s.numpy()) / n, rel=1e-12
        )


# ------------------------------------------------------------------------------ batches


SPECTRUM_FNS = [
    effective_rank,
    normalized_effective_rank,
    spectral_norm,
    frobenius_norm,
    stable_rank,
]


@pytest.mark.parametrize("fn", SPECTRUM_FNS, ids=lambda f: f.__name__)
def test_batch_dims_match_per_item(fn):
    r = 6
    W = gaussian((2, 3, 7, r), seed=11)
    s = t(np.linalg.svd(W, compute_uv=False))  # (2, 3, r)
    assert s.shape == (2, 3, r)
    out = fn(s)
    assert out.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert out[i, j].item() == pytest.approx(fn(s[i, j]).item(), rel=1e-12)


def test_batch_effective_rank_matches_numpy():
    s = np.abs(gaussian((2, 3, 5), seed=4))
    out = effective_rank(t(s))
    expected = np.array([[np_effective_rank(s[i, j]) for j in range(3)] for i in range(2)])
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


# -------------------------------------------------------------------- norms and stable rank


@pytest.mark.parametrize("shape", [(6, 6), (10, 4), (3, 9)])
def test_norms_and_stable_rank_match_numpy(shape):
    W = gaussian(shape, seed=sum(shape) + 1)
    s = t(np_svdvals(W))
    two = np.linalg.norm(W, 2)
    fro = np.linalg.norm(W, "fro")
    assert spectral_norm(s).item() == pytest.approx(two, rel=1e-12)
    assert frobenius_norm(s).item() == pytest.approx(fro, rel=1e-12)
    assert stable_rank(s).item() == pytest.approx(fro**2 / two**2, rel=1e-12)


def test_spectral_norm_does_not_assume_sorted_input():
    s = torch.tensor([1.0, 4.0, 2.0], dtype=torch.float64)
    assert spectral_norm(s).item() == 4.0
    assert frobenius_norm(s).item() == pytest.approx(math.sqrt(21.0))
    assert stable_rank(s).item() == pytest.approx(21.0 / 16.0)


@pytest.mark.parametrize("r", [1, 3, 8])
def test_stable_rank_bounds(r):
    assert stable_rank(torch.ones(r, dtype=torch.float64)).item() == pytest.approx(r)
    one_hot = torch.zeros(r, dtype=torch.float64)
    one_hot[0] = 5.0
    assert stable_rank(one_hot).item() == pytest.approx(1.0)
    s = t(np.abs(gaussian((r,), seed=r)))
    assert 1.0 - 1e-12 <= stable_rank(s).item() <= r + 1e-12


def test_stable_rank_of_all_zero_spectrum_raises():
    with pytest.raises(ValueError):
        stable_rank(torch.zeros(4, dtype=torch.float64))


def test_zero_spectrum_norms_are_zero():
    s = torch.zeros(4, dtype=torch.float64)
    assert spectral_norm(s).item() == 0.0
    assert frobenius_norm(s).item() == 0.0


# ------------------------------------------------------------------------- invariances


@pytest.mark.parametrize("shape", [(7, 7), (9, 5), (4, 10)])
def test_spectral_metrics_invariant_under_orthogonal_maps(shape):
    m, n = shape
    W = gaussian(shape, seed=m * n)
    Q1, Q2 = orthogonal(m, seed=1), orthogonal(n, seed=2)
    s = torch.linalg.svdvals(t(W))
    s_rot = torch.linalg.svdvals(t(Q1 @ W @ Q2))
    for fn in SPECTRUM_FNS:
        assert fn(s_rot).item() == pytest.approx(fn(s).item(), rel=1e-10), fn.__name__


def random_frame(d: int, r: int, seed: int) -> torch.Tensor:
    """(d, r) with orthonormal columns."""
    return t(orthogonal(d, seed)[:, :r])


def test_alignment_matrix_matches_numpy():
    U = random_frame(8, 5, seed=1)
    V = random_frame(8, 6, seed=2)
    expected = np.abs(U.numpy().T @ V.numpy())
    got = alignment_matrix(U, V)
    assert got.shape == (5, 6)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-14)


def test_alignment_matrix_invariant_to_column_sign_flips():
    U = random_frame(9, 6, seed=3)
    V = random_frame(9, 6, seed=4)
    g = rng(5)
    flip_u = t(g.choice([-1.0, 1.0], size=6))
    flip_v = t(g.choice([-1.0, 1.0], size=6))
    assert (flip_u < 0).any() and (flip_v < 0).any()
    base = alignment_matrix(U, V)
    flipped = alignment_matrix(U * flip_u, V * flip_v)
    assert torch.allclose(base, flipped, atol=1e-14)


def test_alignment_of_identical_bases_is_identity():
    U = random_frame(10, 7, seed=6)
    A = alignment_matrix(U, U.clone())
    assert torch.allclose(A, torch.eye(7, dtype=torch.float64), atol=1e-12)
    assert top_score(A).item() == pytest.approx(1.0)


def test_alignment_matrix_k_truncation():
    U = random_frame(10, 8, seed=7)
    V = random_frame(10, 6, seed=8)
    full = alignment_matrix(U, V)
    assert full.shape == (8, 6)
    assert alignment_matrix(U, V, k=3).shape == (3, 3)
    assert torch.equal(alignment_matrix(U, V, k=3), full[:3, :3])
    assert alignment_matrix(U, V, k=7).shape == (7, 6)
    assert alignment_matrix(U, V, k=100).shape == (8, 6)


def test_alignment_matrix_dimension_mismatch_names_shapes():
    U = torch.zeros(5, 3, dtype=torch.float64)
    V = torch.zeros(6, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"5x3") as info:
        alignment_matrix(U, V)
    assert "6x3" in str(info.value)


def test_alignment_matrix_batch_dims():
    U = torch.stack(
        [torch.stack([random_frame(6, 4, seed=10 * i + j) for j in range(3)]) for i in range(2)]
    )
    V = torch.stack(
        [
            torch.stack([random_frame(6, 4, seed=50 + 10 * i + j) for j in range(3)])
            for i in range(2)
        ]
    )
    out = alignment_matrix(U, V, k=3)
    assert out.shape == (2, 3, 3, 3)
    for i in range(2):
        for j in range(3):
            assert torch.allclose(out[i, j], alignment_matrix(U[i, j], V[i, j], k=3))


def svd_vectors(W: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    U, _, Vt = np.linalg.svd(W, full_matrices=False)
    return t(U), t(Vt.T)


def test_agreement_matrix_matches_numpy():
    Ua, Va = svd_vectors(gaussian((7, 5), seed=20))
    Ub, Vb = svd_vectors(gaussian((7, 5), seed=21))
    expected = np.abs(Ua.numpy().T @ Ub.numpy()) * np.abs(Va.numpy().T @ Vb.numpy())
    got = agreement_matrix(Ua, Va, Ub, Vb)
    assert got.shape == (5, 5)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-14)
    # Entry (j, i) is |<u_j v_j^T, u'_i v'_i^T>_F|.
    j, i = 1, 3
    rank1_a = np.outer(Ua[:, j].numpy(), Va[:, j].numpy())
    rank1_b = np.outer(Ub[:, i].numpy(), Vb[:, i].numpy())
    assert got[j, i].item() == pytest.approx(abs(np.sum(rank1_a * rank1_b)), abs=1e-14)


def test_agreement_of_identical_vectors_has_unit_diagonal():
    U, V = svd_vectors(gaussian((8, 6), seed=22))
    A = agreement_matrix(U, V, U.clone(), V.clone())
    assert torch.allclose(A.diagonal(), torch.ones(6, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(A, torch.eye(6, dtype=torch.float64), atol=1e-12)


def test_agreement_matrix_invariant_to_sign_flips():
    W = gaussian((8, 6), seed=23)
    U, V = svd_vectors(W)
    Ub, Vb = svd_vectors(W + 0.3 * gaussian((8, 6), seed=24))
    flips = t(rng(25).choice([-1.0, 1.0], size=(4, 6)))
    base = agreement_matrix(U, V, Ub, Vb)
    # Flipping u_j and v_j together is the SVD's own ambiguity; each flip alone also
    # leaves the absolute values unchanged.
    flipped = agreement_matrix(U * flips[0], V * flips[1], Ub * flips[2], Vb * flips[3])
    assert torch.allclose(base, flipped, atol=1e-14)


def test_agreement_matrix_k_and_batch_dims():
    W = gaussian((2, 3, 7, 5), seed=26)
    Wb = gaussian((2, 3, 7, 5), seed=27)
    Ua, _, Vat = np.linalg.svd(W, full_matrices=False)
    Ub, _, Vbt = np.linalg.svd(Wb, full_matrices=False)
    Ua, Va, Ub, Vb = t(Ua), t(np.swapaxes(Vat, -1, -2)), t(Ub), t(np.swapaxes(Vbt, -1, -2))
    out = agreement_matrix(Ua, Va, Ub, Vb, k=2)
    assert out.shape == (2, 3, 2, 2)
    for i in range(2):
        for j in range(3):
            single = agreement_matrix(Ua[i, j], Va[i, j], Ub[i, j], Vb[i, j], k=2)
            assert torch.allclose(out[i, j], single)


def test_agreement_matrix_shape_mismatch_raises():
    U = torch.zeros(5, 3, dtype=torch.float64)
    V = torch.zeros(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="U_a"):
        agreement_matrix(U, V, torch.zeros(6, 3, dtype=torch.float64), V)
    with pytest.raises(ValueError, match="V_a"):
        agreement_matrix(U, V, U, torch.zeros(6, 3, dtype=torch.float64))


# ---------------------------------------------------------------------------- top score


def test_top_score_is_mean_of_leading_diagonal():
    M = t(gaussian((6, 5), seed=30))
    assert top_score(M, k=3).item() == pytest.approx(np.mean(np.diag(M.numpy())[:3]))
    assert top_score(M, k=1).item() == pytest.approx(M[0, 0].item())
    # k beyond the diagonal uses all of it.
    assert top_score(M, k=10).item() == pytest.approx(np.mean(np.diag(M.numpy())))
    assert top_score(M).item() == pytest.approx(np.mean(np.diag(M.numpy())))


def test_top_score_batch_dims():
    M = t(gaussian((2, 3, 5, 4), seed=31))
    out = top_score(M, k=2)
    assert out.shape == (2, 3)
    expected = np.diagonal(M.numpy(), axis1=-2, axis2=-1)[..., :2].mean(-1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
