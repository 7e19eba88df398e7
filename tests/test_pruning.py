"""Half-SVD pruning (Section 4): exact splits against float64 numpy, from a decomposition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from specdyn.analyses.pruning import cut_of, half_svd, svd_prune


def gaussian(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def low_rank(m: int, n: int, r: int, seed: int = 0) -> np.ndarray:
    return gaussian((m, r), seed) @ gaussian((r, n), seed + 1)


def np_svdvals(W: np.ndarray) -> np.ndarray:
    return np.linalg.svd(W, compute_uv=False)


def t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


def np_prune(W: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    cut = math.ceil(len(s) * fraction)
    top = (U[:, :cut] * s[:cut]) @ Vt[:cut]
    bottom = (U[:, cut:] * s[cut:]) @ Vt[cut:]
    return top, bottom


@pytest.mark.parametrize("shape", [(8, 8), (10, 6), (5, 9)])
@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 0.8, 1.0])
def test_svd_prune_top_plus_bottom_is_w(shape, fraction):
    W = gaussian(shape, seed=sum(shape))
    top = svd_prune(t(W), "top", fraction)
    bottom = svd_prune(t(W), "bottom", fraction)
    assert top.shape == bottom.shape == shape
    np.testing.assert_allclose((top + bottom).numpy(), W, atol=1e-10)
    np_top, np_bottom = np_prune(W, fraction)
    np.testing.assert_allclose(top.numpy(), np_top, atol=1e-10)
    np.testing.assert_allclose(bottom.numpy(), np_bottom, atol=1e-10)


@pytest.mark.parametrize(
    ("r", "fraction", "kept"),
    [(8, 0.5, 4), (7, 0.5, 4), (10, 0.25, 3), (6, 0.1, 1), (9, 1.0, 9), (9, 0.0, 0)],
)
def test_svd_prune_keeps_ceil_fraction_components(r, fraction, kept):
    assert kept == math.ceil(r * fraction)
    W = gaussian((r + 3, r), seed=r)
    top = svd_prune(t(W), "top", fraction).numpy()
    bottom = svd_prune(t(W), "bottom", fraction).numpy()
    assert np.linalg.matrix_rank(top) == kept
    assert np.linalg.matrix_rank(bottom) == r - kept
    # The top part carries the largest singular values, the bottom part the rest.
    s = np_svdvals(W)
    np.testing.assert_allclose(np_svdvals(top)[:kept], s[:kept], rtol=1e-10)
    np.testing.assert_allclose(np_svdvals(bottom)[: r - kept], s[kept:], rtol=1e-10)


@pytest.mark.parametrize(("r", "fraction", "kept"), [(50, 0.14, 7), (25, 0.28, 7)])
def test_svd_prune_cut_is_exact_for_decimal_fractions(r, fraction, kept):
    W = gaussian((r, r), seed=r)
    top = svd_prune(t(W), "top", fraction).numpy()
    assert np.linalg.matrix_rank(top) == kept


def test_svd_prune_top_of_rank_one_is_the_matrix():
    W = low_rank(7, 5, 1, seed=40)
    for fraction in (0.01, 0.2, 0.5, 1.0):
        top = svd_prune(t(W), "top", fraction)
        np.testing.assert_allclose(top.numpy(), W, atol=1e-10)
        np.testing.assert_allclose(svd_prune(t(W), "bottom", fraction).numpy(), 0.0, atol=1e-10)


def test_svd_prune_default_is_top_half():
    W = t(gaussian((6, 6), seed=41))
    assert torch.allclose(svd_prune(W), svd_prune(W, "top", 0.5), atol=1e-12)


@pytest.mark.parametrize(
    ("keep", "fraction"), [("middle", 0.5), ("TOP", 0.5), ("top", -0.1), ("bottom", 1.5)]
)
def test_svd_prune_invalid_arguments_raise(keep, fraction):
    W = t(gaussian((4, 4), seed=42))
    with pytest.raises(ValueError):
        svd_prune(W, keep, fraction)


def test_svd_prune_nan_fraction_raises():
    with pytest.raises(ValueError):
        svd_prune(t(gaussian((4, 4), seed=43)), "top", float("nan"))


def test_svd_prune_batch_dims():
    W = gaussian((2, 3, 6, 4), seed=44)
    top = svd_prune(t(W), "top", 0.5)
    bottom = svd_prune(t(W), "bottom", 0.5)
    assert top.shape == (2, 3, 6, 4)
    np.testing.assert_allclose((top + bottom).numpy(), W, atol=1e-10)
    for i in range(2):
        for j in range(3):
            np_top, _ = np_prune(W[i, j], 0.5)
            np.testing.assert_allclose(top[i, j].numpy(), np_top, atol=1e-10)
            assert np.linalg.matrix_rank(top[i, j].numpy()) == 2


def test_svd_prune_float32():
    W = gaussian((12, 10), seed=45)
    top = svd_prune(t(W).float(), "top", 0.3)
    assert top.dtype == torch.float32
    np_top, _ = np_prune(W, 0.3)
    np.testing.assert_allclose(top.double().numpy(), np_top, atol=1e-4)


def test_rank_two_matrix_by_hand():
    # W = 3 e1 f1^T + 1 e2 f2^T: r = 3, ceil(3/2) = 2 components are "top", so top = W.
    W = torch.zeros(3, 3, dtype=torch.float64)
    W[0, 1], W[2, 0] = 3.0, 1.0
    top, bottom = half_svd(W, *_usv(W), fraction=0.5)
    np.testing.assert_allclose(top.numpy(), W.numpy(), atol=1e-12)
    np.testing.assert_allclose(bottom.numpy(), 0.0, atol=1e-12)
    # With 0.25: ceil(0.75) = 1 component, the 3 e1 f1^T term; the bottom is the other.
    top, bottom = half_svd(W, *_usv(W), fraction=0.25)
    expected = torch.zeros(3, 3, dtype=torch.float64)
    expected[0, 1] = 3.0
    np.testing.assert_allclose(top.numpy(), expected.numpy(), atol=1e-12)
    np.testing.assert_allclose(bottom.numpy(), (W - expected).numpy(), atol=1e-12)
    np.testing.assert_allclose((top + bottom).numpy(), W.numpy(), atol=1e-12)


def _usv(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    U, s, Vh = torch.linalg.svd(W, full_matrices=False)
    return U, s, Vh.mT


def test_half_svd_needs_only_the_top_vectors():
    W = t(gaussian((9, 7), seed=3))
    U, s, V = _usv(W)
    full = half_svd(W, U, s, V, 0.5)
    kept = half_svd(W, U[:, :4], s, V[:, :4], 0.5)  # ceil(7 / 2) = 4 vectors suffice
    for x, y in zip(full, kept, strict=True):
        np.testing.assert_allclose(x.numpy(), y.numpy(), atol=1e-12)
    np_top, np_bottom = np_prune(W.numpy(), 0.5)
    np.testing.assert_allclose(kept[1].numpy(), np_bottom, atol=1e-10)
    with pytest.raises(ValueError, match="needs that many vectors"):
        half_svd(W, U[:, :3], s, V[:, :3], 0.5)
    with pytest.raises(ValueError, match="all r=7"):
        half_svd(W, U, s[:5], V, 0.5)


def test_cut_of():
    assert [cut_of(r, 0.5) for r in (1, 2, 3, 4, 5)] == [1, 1, 2, 2, 3]
    assert cut_of(50, 0.14) == 7
