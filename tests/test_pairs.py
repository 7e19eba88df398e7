"""Pair, pair_alignment and centre_position on matrices with known singular vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specdyn.metrics import alignment_matrix
from specdyn.spectral import (
    Pair,
    Spectrum,
    centre_position,
    decompose,
    pair_alignment,
    weight_matrices,
)


def orthogonal(n: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def with_svd(U: np.ndarray, s: np.ndarray, V: np.ndarray) -> torch.Tensor:
    """U diag(s) V^T as a float64 tensor; U (m, r), V (n, r) orthonormal columns."""
    return torch.from_numpy((U * s) @ V.T)


def test_pair_name_and_defaults():
    pair = Pair("mlp.fc_in", "mlp.fc_out")
    assert pair.name == "mlp.fc_in->mlp.fc_out"
    assert (pair.prev_side, pair.next_side, pair.next_kernel) == ("U", "V", ())
    assert Pair("a", "b", prev_side="V").name == "a->b"


def test_pair_is_frozen_and_hashable():
    pair = Pair("a", "b")
    with pytest.raises(AttributeError):
        pair.prev = "c"  # type: ignore[misc]
    assert {pair, Pair("a", "b")} == {pair}


def test_aligned_linear_chain_has_unit_diagonal():
    """W1: 5 -> 6 (rank 5), W2: 6 -> 4 whose inputs are W1's outputs, in the same order."""
    U1, V1 = orthogonal(6, seed=1), orthogonal(5, seed=2)
    U2 = orthogonal(4, seed=3)
    W1 = with_svd(U1[:, :5], np.array([9.0, 7.0, 5.0, 3.0, 1.0]), V1)  # (6, 5)
    W2 = with_svd(U2, np.array([8.0, 6.0, 4.0, 2.0]), U1[:, :4])  # (4, 6): V2 = U1[:, :4]
    spectra = decompose({"fc1": W1, "fc2": W2}, k=None)
    A = pair_alignment(spectra, Pair("fc1", "fc2"))
    assert A.shape == (5, 4)  # min(k, r1) x min(k, r2), r1 = 5, r2 = 4
    assert torch.allclose(A.diagonal(), torch.ones(4, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(A, torch.eye(5, 4, dtype=torch.float64), atol=1e-10)
    # k truncates both sides.
    assert pair_alignment(spectra, Pair("fc1", "fc2"), k=2).shape == (2, 2)


def test_unrelated_chain_is_not_aligned():
    rng = np.random.default_rng(4)
    spectra = decompose(
        {
            "fc1": torch.from_numpy(rng.standard_normal((30, 20))),
            "fc2": torch.from_numpy(rng.standard_normal((10, 30))),
        },
        k=None,
    )
    A = pair_alignment(spectra, Pair("fc1", "fc2"))
    assert A.shape == (20, 10)
    assert A.diagonal().mean().item() < 0.5


def test_embedding_uses_its_right_vectors():
    """An embedding (vocab, d) outputs along V: its pair reads prev_side='V'."""
    vocab, d = 10, 6
    A_left = orthogonal(vocab, seed=5)[:, :d]
    B = orthogonal(d, seed=6)
    E = with_svd(A_left, np.array([6.0, 5.0, 4.0, 3.0, 2.0, 1.0]), B)  # (vocab, d)
    W = with_svd(orthogonal(4, seed=7), np.array([4.0, 3.0, 2.0, 1.0]), B[:, :4])  # (4, d)
    spectra = decompose({"embed": E, "fc": W}, k=None)
    A = pair_alignment(spectra, Pair("embed", "fc", prev_side="V"))
    assert A.shape == (6, 4)
    assert torch.allclose(A.diagonal(), torch.ones(4, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(A, torch.eye(6, 4, dtype=torch.float64), atol=1e-10)
    # The default side U lives in the vocabulary space: wrong dimension.
    with pytest.raises(ValueError, match="dimension"):
        pair_alignment(spectra, Pair("embed", "fc"))


def test_next_side_u():
    """A pair may also read U of the next matrix (e.g. a matrix stored transposed)."""
    U1 = orthogonal(5, seed=8)
    W1 = with_svd(U1, np.array([5.0, 4.0, 3.0, 2.0, 1.0]), orthogonal(5, seed=9))
    W2t = with_svd(U1[:, :3], np.array([3.0, 2.0, 1.0]), orthogonal(3, seed=10))  # (5, 3)
    spectra = decompose({"a": W1, "b": W2t}, k=None)
    A = pair_alignment(spectra, Pair("a", "b", next_side="U"))
    assert A.shape == (5, 3)
    assert torch.allclose(A, torch.eye(5, 3, dtype=torch.float64), atol=1e-10)


# ------------------------------------------------------------------------ conv centre


def test_centre_position_2d_kernel():
    c_in, r = 4, 3
    V = torch.arange(c_in * 9 * r, dtype=torch.float64).reshape(c_in * 9, r)
    out = centre_position(V, (3, 3))
    assert out.shape == (c_in, r)
    expected = torch.stack([V[c * 9 + 4] for c in range(c_in)])
    assert torch.equal(out, expected)


def test_centre_position_1d_kernel():
    c_in, r = 3, 2
    V = torch.arange(c_in * 5 * r, dtype=torch.float64).reshape(c_in * 5, r)
    out = centre_position(V, (5,))
    assert torch.equal(out, torch.stack([V[c * 5 + 2] for c in range(c_in)]))


def test_centre_position_3d_and_rectangular_kernels():
    c_in, r = 2, 4
    V = torch.arange(c_in * 27 * r, dtype=torch.float64).reshape(c_in * 27, r)
    assert torch.equal(centre_position(V, (3, 3, 3)), V[[13, 27 + 13]])
    V = torch.arange(c_in * 15 * r, dtype=torch.float64).reshape(c_in * 15, r)
    # kernel (3, 5): centre (1, 2) -> 1 * 5 + 2 = 7
    assert torch.equal(centre_position(V, (3, 5)), V[[7, 15 + 7]])


def test_centre_position_matches_conv_weight_layout():
    """Rows picked are the flattened conv weight's columns at the kernel centre."""
    conv = torch.nn.Conv2d(3, 5, 3)
    W = conv.weight.detach().reshape(5, -1)  # (5, 3*3*3)
    centre = centre_position(W.T, (3, 3))  # (c_in, c_out)
    assert torch.equal(centre, conv.weight.detach()[:, :, 1, 1].T)


def test_pair_alignment_with_conv_kernel():
    """A Linear whose outputs match a conv's centre-tap inputs."""
    c_in, c_out, k = 4, 6, 3
    rng = np.random.default_rng(11)
    Wc = torch.from_numpy(rng.standard_normal((c_out, c_in * k * k)))
    Wp = torch.from_numpy(rng.standard_normal((c_in, 7)))
    spectra = decompose({"fc": Wp, "conv": Wc}, k=None)
    pair = Pair("fc", "conv", next_kernel=(k, k))
    A = pair_alignment(spectra, pair)
    expected = alignment_matrix(spectra["fc"].U, centre_position(spectra["conv"].V, (k, k)))
    assert A.shape == (4, 6)
    assert torch.allclose(A, expected)
    np_expected = np.abs(
        spectra["fc"].U.numpy().T @ spectra["conv"].V.numpy().reshape(c_in, k, k, -1)[:, 1, 1, :]
    )
    np.testing.assert_allclose(A.numpy(), np_expected, atol=1e-12)


# ----------------------------------------------------------------------------- errors


def test_missing_matrix_raises_key_error():
    spectra = decompose({"a": torch.randn(3, 3, dtype=torch.float64)})
    with pytest.raises(KeyError, match="'b'"):
        pair_alignment(spectra, Pair("a", "b"))
    with pytest.raises(KeyError, match="'z'"):
        pair_alignment(spectra, Pair("z", "a"))


def test_missing_vectors_raise_value_error():
    spectra = {
        "a": Spectrum(torch.ones(3)),
        "b": Spectrum(torch.ones(3), torch.eye(3), torch.eye(3)),
    }
    with pytest.raises(ValueError, match="'a'"):
        pair_alignment(spectra, Pair("a", "b"))


def test_pair_group_averages_member_alignments():
    from specdyn.spectral import PairGroup

    torch.manual_seed(0)
    attn = torch.nn.MultiheadAttention(8, 2)
    holder = torch.nn.Module()
    holder.attn = attn
    spectra = decompose(weight_matrices(holder, heads=True), k=None)
    members = tuple(
        Pair(f"attn.in_proj_weight.q.h{h}", f"attn.in_proj_weight.k.h{h}", next_side="U")
        for h in range(2)
    )
    group = PairGroup("attn.q<->k", members)
    expected = (pair_alignment(spectra, members[0]) + pair_alignment(spectra, members[1])) / 2
    torch.testing.assert_close(pair_alignment(spectra, group), expected)
    v_to_o = Pair("attn.in_proj_weight.v.h1", "attn.out_proj.h1")  # shared space: d_head = 4
    assert pair_alignment(spectra, v_to_o).shape == (4, 4)
