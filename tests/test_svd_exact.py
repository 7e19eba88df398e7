"""decompose() is exact to its stated tolerances against a float64 SVD (numpy), on the
matrices where a float32 SVD is not: rank-deficient, ill-conditioned, (near-)repeated and
tiny singular values, very wide and very tall shapes, on both routes.

Tolerances: top-100 singular values relative error <= 1e-5, effective rank relative error
<= 1e-6, agreement and alignment entries of the top vectors <= 1e-4. Vectors of
(near-)repeated values are not unique, so for them the projector onto the span of the
cluster is compared, and every vector must satisfy W v = s u and W^T u = s v.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from specdyn.spectral import decompose, metrics
from specdyn.spectral.svd import FULL_SVD_MAX, route

K = 100


def orthonormal(n: int, r: int, rng: np.random.Generator) -> np.ndarray:
    return np.linalg.qr(rng.standard_normal((n, r)))[0]


def with_values(m: int, n: int, s: np.ndarray, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    r = min(m, n)
    W = (orthonormal(m, r, rng) * s) @ orthonormal(n, r, rng).T
    return torch.from_numpy(W).float()


def matrix(kind: str, m: int, n: int, seed: int = 0) -> torch.Tensor:
    r = min(m, n)
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return torch.from_numpy(rng.standard_normal((m, n)) / math.sqrt(n)).float()
    if kind == "rank_deficient":  # repeated columns: exactly rank-deficient in float32
        half = torch.from_numpy(rng.standard_normal((m, (n + 1) // 2))).float()
        return torch.cat([half, half], dim=1)[:, :n]
    if kind == "ill_conditioned":
        return with_values(m, n, np.logspace(0, -9, r), seed)
    if kind == "repeated":
        s = np.where(np.arange(r) < r // 3, 2.0, 1.0)
        return with_values(m, n, s, seed)
    if kind == "near_repeated":
        s = 1.0 + 1e-7 * np.arange(r)[::-1]
        return with_values(m, n, s, seed)
    if kind == "tiny":
        return with_values(m, n, np.logspace(-30, -32, r), seed)
    raise ValueError(kind)


KINDS = ["gaussian", "rank_deficient", "ill_conditioned", "repeated", "near_repeated", "tiny"]
SHAPES = [(8, 6), (5, 300), (300, 8), (64, 64), (120, 40), (40, 120)]


def reference(W: torch.Tensor):
    U, s, Vh = np.linalg.svd(W.double().numpy(), full_matrices=False)
    return s, U, Vh.T


def clusters(s: np.ndarray, gap: float) -> list[list[int]]:
    """Indices grouped where neighbouring values are closer than ``gap``."""
    groups = [[0]]
    for i in range(1, len(s)):
        if s[i - 1] - s[i] < gap:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", KINDS)
def test_values_effective_rank_and_vectors(kind, shape):
    W = matrix(kind, *shape)
    s0 = reference(W)[0]
    spec = decompose({"w": W}, k=K)["w"]
    s = spec.s.double().numpy()
    top = slice(0, min(K, len(s0)))
    floor = 1e-13 * s0[0]  # exact zeros: float64 resolution
    np.testing.assert_array_less(np.abs(s[top] - s0[top]), 1e-5 * s0[top] + floor)
    erank, erank0 = (metrics.effective_rank(torch.from_numpy(x)).item() for x in (s, s0))
    assert abs(erank / erank0 - 1) <= 1e-6
    _assert_singular_vectors(W, spec)


def _assert_singular_vectors(W: torch.Tensor, spec) -> None:
    s0, U0, V0 = reference(W)
    U, V = spec.U.double().numpy(), spec.V.double().numpy()
    k = U.shape[1]
    W64, s = W.double().numpy(), s0[:k]
    # Residuals and orthonormality, whatever the multiplicities.
    assert np.abs(W64 @ V - U * s).max() <= 1e-6 * s0[0]
    assert np.abs(W64.T @ U - V * s).max() <= 1e-6 * s0[0]
    for X in (U, V):
        np.testing.assert_allclose(X.T @ X, np.eye(k), atol=1e-5)
    # Each cluster of (near-)repeated values inside the top k spans the reference subspace.
    for group in clusters(s0, 1e-3 * s0[0]):
        if group[-1] >= k or s0[group[0]] < 1e-4 * s0[0]:
            continue  # cut by k, or values at the float32 noise floor: residuals above
        for X, X0 in ((U, U0), (V, V0)):
            # ||P - P0||_2 = ||(I - P0) X||_2: the sine of the largest principal angle
            Xg, X0g = X[:, group], X0[:, group]
            assert np.linalg.norm(Xg - X0g @ (X0g.T @ Xg), 2) <= 1e-4, group


@pytest.mark.parametrize("shape", [(64, 64), (200, 40), (40, 200), (6, 8)])
@pytest.mark.parametrize("kind", ["gaussian", "ill_conditioned"])
def test_agreement_and_alignment_entries(kind, shape):
    """The entries the recorder stores, computed as the metrics compute them."""
    W_t = matrix(kind, *shape, seed=1)
    W_T = W_t + 1e-2 * matrix("gaussian", *shape, seed=2) * W_t.abs().max()
    out = decompose({"t": W_t, "T": W_T}, k=K)
    (_, U0t, V0t), (_, U0T, V0T) = reference(W_t), reference(W_T)
    k = out["t"].U.shape[1]

    def agreement(Ua, Va, Ub, Vb):
        t = [torch.as_tensor(x).double() for x in (Ua, Va, Ub, Vb)]
        return metrics.agreement_matrix(*t, k=k).diagonal().numpy()

    got = agreement(out["t"].U, out["t"].V, out["T"].U, out["T"].V)
    expected = agreement(U0t[:, :k], V0t[:, :k], U0T[:, :k], V0T[:, :k])
    unique = _unique_indices(W_t, k) & _unique_indices(W_T, k)
    np.testing.assert_allclose(got[unique], expected[unique], atol=1e-4)
    # Alignment of the left vectors of one matrix with those of the other (Eq. 3).
    got = metrics.alignment_matrix(out["t"].U.double(), out["T"].U.double(), k).diagonal()
    ref = metrics.alignment_matrix(*(torch.from_numpy(x[:, :k]) for x in (U0t, U0T)), k)
    np.testing.assert_allclose(got.numpy()[unique], ref.diagonal().numpy()[unique], atol=1e-4)


def _unique_indices(W: torch.Tensor, k: int) -> np.ndarray:
    """Indices whose singular vectors are determined to 1e-5 in float64: gap >= 1e-6 s_1
    and value >= 1e-4 s_1 (values below sit at the float32 rounding floor of W)."""
    s0 = reference(W)[0]
    gaps = np.full(len(s0), np.inf)
    gaps[:-1] = np.minimum(gaps[:-1], s0[:-1] - s0[1:])
    gaps[1:] = np.minimum(gaps[1:], s0[:-1] - s0[1:])
    return ((gaps >= 1e-6 * s0[0]) & (s0 >= 1e-4 * s0[0]))[:k]


def test_route_rule():
    assert route((FULL_SVD_MAX, 500)) == "svd"
    assert route((FULL_SVD_MAX + 1, 9)) == "gram"
    assert route((768, 3072)) == "gram"


def test_wide_and_tall_share_one_gram_batch(monkeypatch):
    calls = []
    real = torch.linalg.eigh

    def counting(A, *args, **kwargs):
        calls.append(tuple(A.shape))
        return real(A, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, "eigh", counting)
    mats = {"fc_in": matrix("gaussian", 48, 16, 3), "fc_out": matrix("gaussian", 16, 48, 4)}
    out = decompose(mats, k=10)
    assert calls == [(2, 16, 16)]
    for name, W in mats.items():
        s0, U0, V0 = reference(W)
        assert out[name].U.shape == (W.shape[0], 10) and out[name].V.shape == (W.shape[1], 10)
        np.testing.assert_allclose(out[name].s.numpy(), s0, rtol=1e-5)
        cos = np.abs(np.sum(out[name].U.double().numpy() * U0[:, :10], axis=0))
        np.testing.assert_allclose(cos, 1.0, atol=1e-6)


def test_values_only_and_float64():
    W = matrix("ill_conditioned", 90, 60)
    s0 = reference(W)[0]
    spec = decompose({"w": W}, vectors=False)["w"]
    assert spec.U is None and spec.s.dtype == torch.float32
    np.testing.assert_allclose(spec.s.double().numpy()[:K], s0[:K], rtol=1e-5, atol=1e-13)
    spec = decompose({"w": W.double()}, k=5)["w"]
    assert spec.s.dtype == spec.U.dtype == spec.V.dtype == torch.float64
    np.testing.assert_allclose(spec.s.numpy(), s0, rtol=1e-5, atol=1e-13)
