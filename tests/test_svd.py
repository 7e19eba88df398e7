"""specdyn.spectral.decompose: values, vectors, batching, non-finite input and fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specdyn.errors import NonFiniteMatrixError, SpecdynError, SVDError
from specdyn.spectral import Spectrum, check_finite, decompose


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def np_svdvals(W: torch.Tensor) -> np.ndarray:
    return np.linalg.svd(W.double().numpy(), compute_uv=False)


def assert_values_close(s: torch.Tensor, W: torch.Tensor, rel: float = 1e-4) -> None:
    expected = np_svdvals(W)
    assert s.shape == expected.shape
    np.testing.assert_allclose(s.double().numpy(), expected, rtol=rel, atol=rel * expected[0])


def reconstruct(spec: Spectrum) -> torch.Tensor:
    return (spec.U * spec.s) @ spec.V.mT


class CountingSVD:
    """Wraps torch.linalg.svd, recording the shape and dtype of every call."""

    def __init__(self, fail_dtypes: tuple[torch.dtype, ...] = ()):
        self.real = torch.linalg.svd
        self.fail_dtypes = fail_dtypes
        self.calls: list[tuple[tuple[int, ...], torch.dtype]] = []

    def __call__(self, A, *args, **kwargs):
        self.calls.append((tuple(A.shape), A.dtype))
        if A.dtype in self.fail_dtypes:
            raise torch.linalg.LinAlgError("linalg.svd: (forced) the algorithm failed to converge")
        return self.real(A, *args, **kwargs)


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("shape", [(20, 30), (30, 20), (16, 16), (1, 7)])
def test_singular_values_match_numpy(shape):
    W = randn(*shape, seed=sum(shape))
    spec = decompose({"w": W})["w"]
    assert spec.s.dtype == torch.float32
    assert spec.s.shape == (min(shape),)
    assert_values_close(spec.s, W)
    assert torch.all(spec.s[:-1] >= spec.s[1:])  # descending


def test_float64_stays_float64_and_is_exact():
    W = randn(12, 9, seed=1, dtype=torch.float64)
    spec = decompose({"w": W}, k=None)["w"]
    assert spec.s.dtype == spec.U.dtype == spec.V.dtype == torch.float64
    np.testing.assert_allclose(spec.s.numpy(), np_svdvals(W), rtol=1e-12)
    np.testing.assert_allclose(reconstruct(spec).numpy(), W.numpy(), atol=1e-12)


def test_half_precision_is_decomposed_in_float32():
    W = randn(8, 6, seed=2).half()
    spec = decompose({"w": W})["w"]
    assert spec.s.dtype == spec.U.dtype == torch.float32
    assert_values_close(spec.s, W.float())


def test_full_vectors_reconstruct_w():
    W = randn(10, 14, seed=3)
    spec = decompose({"w": W}, k=None)["w"]
    assert spec.U.shape == (10, 10)
    assert spec.V.shape == (14, 10)
    assert torch.allclose(reconstruct(spec), W, atol=1e-5)
    eye = torch.eye(10)
    assert torch.allclose(spec.U.mT @ spec.U, eye, atol=1e-5)
    assert torch.allclose(spec.V.mT @ spec.V, eye, atol=1e-5)


def test_top_k_truncation():
    W = randn(12, 9, seed=4)
    full = decompose({"w": W}, k=None)["w"]
    top = decompose({"w": W}, k=4)["w"]
    assert top.s.shape == (9,)  # every singular value, only k vectors
    assert top.U.shape == (12, 4)
    assert top.V.shape == (9, 4)
    assert torch.allclose(top.s, full.s)
    # Top-k vectors up to sign: the rank-4 truncation agrees.
    top4 = (top.U * top.s[:4]) @ top.V.mT
    full4 = (full.U[:, :4] * full.s[:4]) @ full.V[:, :4].mT
    assert torch.allclose(top4, full4, atol=1e-5)


def test_default_k_larger_than_rank_keeps_all():
    spec = decompose({"w": randn(5, 7, seed=5)})["w"]  # default k=100 > r=5
    assert spec.U.shape == (5, 5)
    assert spec.V.shape == (7, 5)


def test_vectors_false():
    W = randn(6, 8, seed=6)
    spec = decompose({"w": W}, vectors=False)["w"]
    assert spec.U is None and spec.V is None
    assert_values_close(spec.s, W)


def test_vectors_as_set_of_names():
    mats = {"a": randn(6, 5, seed=7), "b": randn(6, 5, seed=8), "c": randn(4, 4, seed=9)}
    out = decompose(mats, k=3, vectors={"a", "c"})
    assert out["a"].U.shape == (6, 3) and out["a"].V.shape == (5, 3)
    assert out["b"].U is None and out["b"].V is None
    assert out["c"].U.shape == (4, 3)
    for name, W in mats.items():
        assert_values_close(out[name].s, W)


def test_output_order_and_names_follow_input():
    mats = {
        "z": randn(3, 4, seed=10),
        "a": randn(5, 5, seed=11),
        "m": randn(3, 4, seed=12),
        "b": randn(5, 5, seed=13),
    }
    out = decompose(mats)
    assert list(out) == ["z", "a", "m", "b"]
    for name, W in mats.items():
        assert_values_close(out[name].s, W)


def test_empty_mapping():
    assert decompose({}) == {}


# --------------------------------------------------------------------------- batching


def test_same_shape_matrices_share_one_call(monkeypatch):
    counter = CountingSVD()
    monkeypatch.setattr(torch.linalg, "svd", counter)
    mats = {f"m{i}": randn(6, 4, seed=20 + i) for i in range(3)}
    out = decompose(mats)
    assert len(counter.calls) == 1
    assert counter.calls[0] == ((3, 6, 4), torch.float32)
    for name, W in mats.items():
        assert_values_close(out[name].s, W)
        assert torch.allclose(reconstruct(out[name]), W, atol=1e-5)


def test_one_call_per_shape(monkeypatch):
    counter = CountingSVD()
    monkeypatch.setattr(torch.linalg, "svd", counter)
    mats = {
        "a": randn(6, 4, seed=30),
        "b": randn(4, 6, seed=31),
        "c": randn(6, 4, seed=32),
        "d": randn(5, 5, seed=33),
    }
    decompose(mats)
    assert sorted(shape for shape, _ in counter.calls) == [(1, 4, 6), (1, 5, 5), (2, 6, 4)]


# ------------------------------------------------------------------------- non-finite


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_raises_naming_the_matrix(bad):
    W = randn(4, 5, seed=40)
    W[2, 3] = bad
    mats = {"ok": randn(4, 5, seed=41), "encoder.layers.3.fc": W}
    with pytest.raises(NonFiniteMatrixError, match=r"encoder\.layers\.3\.fc") as info:
        decompose(mats)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, SpecdynError)


def test_check_finite():
    check_finite("fine", randn(3, 3))
    with pytest.raises(NonFiniteMatrixError, match="'bad'"):
        check_finite("bad", torch.tensor([[1.0, float("nan")]]))


# -------------------------------------------------------------------------- fallbacks


def test_float32_failure_falls_back_to_float64(monkeypatch):
    counter = CountingSVD(fail_dtypes=(torch.float32,))
    monkeypatch.setattr(torch.linalg, "svd", counter)
    mats = {"a": randn(7, 5, seed=50), "b": randn(7, 5, seed=51)}
    out = decompose(mats, k=None)
    dtypes = [dtype for _, dtype in counter.calls]
    assert dtypes[0] == torch.float32  # the batch, which fails
    assert dtypes[1:] == [torch.float64, torch.float64]  # one retry per matrix
    for name, W in mats.items():
        spec = out[name]
        assert spec.s.dtype == spec.U.dtype == spec.V.dtype == torch.float32
        assert_values_close(spec.s, W)
        assert torch.allclose(reconstruct(spec), W, atol=1e-5)


def test_fallback_respects_k(monkeypatch):
    monkeypatch.setattr(torch.linalg, "svd", CountingSVD(fail_dtypes=(torch.float32,)))
    spec = decompose({"w": randn(9, 6, seed=52)}, k=2)["w"]
    assert spec.s.shape == (6,)
    assert spec.U.shape == (9, 2) and spec.V.shape == (6, 2)


def test_fallback_for_values_only(monkeypatch):
    real = torch.linalg.svdvals

    def svdvals(A, *args, **kwargs):
        if A.dtype == torch.float32:
            raise torch.linalg.LinAlgError("forced")
        return real(A, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, "svdvals", svdvals)
    W = randn(5, 8, seed=53)
    spec = decompose({"w": W}, vectors=False)["w"]
    assert spec.U is None
    assert spec.s.dtype == torch.float32
    assert_values_close(spec.s, W)


def test_every_attempt_failing_raises_svd_error(monkeypatch):
    monkeypatch.setattr(
        torch.linalg, "svd", CountingSVD(fail_dtypes=(torch.float32, torch.float64))
    )
    with pytest.raises(SVDError, match=r"blocks\.0\.mlp\.fc_in") as info:
        decompose({"blocks.0.mlp.fc_in": randn(4, 3, seed=54)})
    assert "4x3" in str(info.value)
    assert isinstance(info.value, SpecdynError)


def test_only_the_failing_matrix_is_named(monkeypatch):
    """A batch fails; the retries succeed for one matrix and fail for the other."""
    real = torch.linalg.svd
    poisoned = randn(4, 3, seed=55)

    def svd(A, *args, **kwargs):
        if A.dtype == torch.float32 or torch.allclose(A[0].float(), poisoned):
            raise torch.linalg.LinAlgError("forced")
        return real(A, *args, **kwargs)

    monkeypatch.setattr(torch.linalg, "svd", svd)
    with pytest.raises(SVDError, match="'bad'") as info:
        decompose({"good": randn(4, 3, seed=56), "bad": poisoned})
    assert "'good'" not in str(info.value)


# ----------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), ()])
def test_non_2d_raises(shape):
    with pytest.raises(ValueError, match="'w'"):
        decompose({"ok": randn(3, 3), "w": torch.zeros(shape)})
