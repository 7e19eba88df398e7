"""The streamed engine of ``specdyn analyze`` (spectral/large.py) holds the tolerances of
spectral/exact.py on the same hard matrices, in bf16 and float32, and its truncated top-k
vectors (forced on small matrices here) equal the exact ones on decaying spectra and fall
back to the exact path on flat ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_svd_exact import KINDS, K, _assert_singular_vectors, matrix, reference, with_values

from specdyn.spectral import large, metrics
from specdyn.spectral.exact import EPS64, GRAM_C
from specdyn.spectral.large import decompose_large, gram64, top_eigenvectors


@pytest.mark.parametrize("shape", [(5, 300), (300, 8), (64, 64), (120, 40), (40, 120)])
@pytest.mark.parametrize("kind", KINDS)
def test_holds_the_exact_tolerances(kind, shape):
    W = matrix(kind, *shape)
    s0 = reference(W)[0]
    spec = decompose_large("w", W, k=K)
    s = spec.s.double().numpy()
    top = slice(0, min(K, len(s0)))
    np.testing.assert_array_less(np.abs(s[top] - s0[top]), 1e-5 * s0[top] + 1e-13 * s0[0])
    erank, erank0 = (metrics.effective_rank(torch.from_numpy(x)).item() for x in (s, s0))
    assert abs(erank / erank0 - 1) <= 1e-6
    _assert_singular_vectors(W, spec)
    values = decompose_large("w", W, k=0)
    assert values.U is None and torch.equal(values.s, spec.s)


def test_gram_from_row_blocks_of_bf16(monkeypatch):
    monkeypatch.setattr(large, "BLOCK_BYTES", 8 * 40 * 7)  # 7 rows a block
    W = torch.randn(100, 40).bfloat16()
    X = W.double()
    assert torch.allclose(gram64(W), X.T @ X, rtol=1e-12, atol=1e-10)
    spec = decompose_large("w", W, k=5)
    assert spec.s.dtype == torch.float32
    assert torch.allclose(spec.s.double(), torch.linalg.svdvals(X), rtol=1e-6)


@pytest.mark.parametrize("n", [1, 3, 8, 41])
def test_triangular_gram_equals_the_full_product(monkeypatch, n):
    monkeypatch.setattr(large, "BLOCK_BYTES", 8 * n * 5)  # 5 rows a block
    W = torch.randn(37, n, generator=torch.Generator().manual_seed(n)).bfloat16()
    X = W.double()
    G = gram64(W)
    assert torch.equal(G, G.mT)
    np.testing.assert_allclose(G.numpy(), X.numpy().T @ X.numpy(), rtol=1e-13, atol=1e-12)


def _decaying(m: int, n: int) -> torch.Tensor:
    return with_values(m, n, np.logspace(0, -3, min(m, n)), seed=3)


def _flat(m: int, n: int) -> torch.Tensor:
    return matrix("gaussian", m, n, seed=4)  # Marchenko-Pastur: neighbouring values close


@pytest.mark.parametrize("wide", [False, True])
def test_truncated_vectors_equal_the_exact_ones_on_a_decaying_spectrum(wide):
    W = _decaying(300, 200)
    W = W.T.contiguous() if wide else W
    spec = decompose_large("w", W, k=10, truncated_min=64)
    _assert_singular_vectors(W, spec)
    X = W.double() if not wide else W.double().T
    G = X.T @ X
    lam = torch.linalg.eigvalsh(G).flip(0)
    found = top_eigenvectors(G, lam, 10, GRAM_C * EPS64 * float(lam[0]))
    assert found is not None  # the truncated path itself certified, no fallback


def test_flat_spectrum_falls_back_to_the_exact_path():
    W = _flat(300, 200)
    X = W.double()
    G = X.T @ X
    lam = torch.linalg.eigvalsh(G).flip(0)
    assert top_eigenvectors(G, lam, 10, GRAM_C * EPS64 * float(lam[0]), iterations=3) is None
    spec = decompose_large("w", W, k=10, truncated_min=64)
    _assert_singular_vectors(W, spec)
    exact = decompose_large("w", W, k=10)
    assert torch.equal(spec.s, exact.s)


def test_non_finite_and_not_2d_name_the_matrix():
    W = torch.ones(20, 30)
    W[3, 4] = float("inf")
    with pytest.raises(ValueError, match="'emb' \\(20x30\\)"):
        decompose_large("emb", W, k=3)
    with pytest.raises(ValueError, match="'emb' must be 2-D"):
        decompose_large("emb", torch.ones(2, 3, 4), k=3)
