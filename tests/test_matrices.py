"""weight_matrices / canonical_name: which tensors are weight matrices and their 2-D layout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import specdyn
from specdyn.spectral.matrices import canonical_name, weight_matrices


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


class Holder(nn.Module):
    """A container that names its children by keyword."""

    def __init__(self, **children: nn.Module):
        super().__init__()
        for name, child in children.items():
            self.add_module(name, child)


def shares_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


def test_top_level_export():
    assert specdyn.weight_matrices is weight_matrices


def test_spectral_package_exports():
    from specdyn import spectral

    assert spectral.weight_matrices is weight_matrices
    assert spectral.canonical_name is canonical_name


# ------------------------------------------------------------------ Linear and Embedding


def test_linear_is_a_view_of_the_parameter():
    model = Holder(fc=nn.Linear(4, 3))
    mats = weight_matrices(model)
    assert list(mats) == ["fc"]
    W = mats["fc"]
    param = model.fc.weight
    assert W.shape == (3, 4)
    assert torch.equal(W, param)
    assert W.data_ptr() == param.data_ptr()
    assert shares_storage(W, param)
    with torch.no_grad():
        param[0, 0] = 123.0
    assert W[0, 0].item() == 123.0


def test_embedding_as_stored():
    model = Holder(embed=nn.Embedding(11, 5))
    W = weight_matrices(model)["embed"]
    assert W.shape == (11, 5)
    assert torch.equal(W, model.embed.weight)
    assert W.data_ptr() == model.embed.weight.data_ptr()


def test_tensors_are_detached():
    model = Holder(embed=nn.Embedding(6, 4), fc=nn.Linear(4, 3), conv=nn.Conv2d(2, 3, 3))
    for name, W in weight_matrices(model).items():
        assert not W.requires_grad, name
        assert W.grad_fn is None, name


# ------------------------------------------------------------------------- convolutions


@pytest.mark.parametrize(
    ("conv", "shape"),
    [
        (nn.Conv1d(3, 5, 4), (5, 3 * 4)),
        (nn.Conv2d(3, 5, (2, 3)), (5, 3 * 2 * 3)),
        (nn.Conv3d(2, 4, (1, 2, 3)), (4, 2 * 1 * 2 * 3)),
        (nn.Conv2d(4, 6, 3, groups=2), (6, 2 * 3 * 3)),  # grouped: c_in / groups
        (nn.Conv2d(4, 4, 3, groups=4), (4, 1 * 3 * 3)),  # depthwise
    ],
    ids=["conv1d", "conv2d", "conv3d", "grouped", "depthwise"],
)
def test_conv_flattened(conv, shape):
    W = weight_matrices(Holder(conv=conv))["conv"]
    assert W.shape == shape
    assert torch.equal(W, conv.weight.reshape(conv.weight.shape[0], -1))
    assert shares_storage(W, conv.weight)


def test_conv2d_flattening_matches_unfolded_patches():
    """Column order of the flattened kernel is the order of F.unfold's patch rows."""
    conv = nn.Conv2d(3, 5, (2, 3), bias=False)
    W = weight_matrices(Holder(conv=conv))["conv"]  # (5, 3*2*3)
    x = torch.randn(2, 3, 6, 7)
    patches = F.unfold(x, (2, 3))  # (2, 3*2*3, L)
    expected = conv(x).flatten(2)  # (2, 5, L)
    assert torch.allclose(W @ patches, expected.detach(), atol=1e-5)


def test_conv_transpose2d_transposed_and_flattened():
    conv = nn.ConvTranspose2d(3, 5, (2, 3))  # weight stored (c_in=3, c_out=5, 2, 3)
    assert conv.weight.shape == (3, 5, 2, 3)
    W = weight_matrices(Holder(up=conv))["up"]
    assert W.shape == (5, 3 * 2 * 3)
    expected = conv.weight.detach().permute(1, 0, 2, 3).reshape(5, -1)
    assert torch.equal(W, expected)
    assert not W.requires_grad


def test_conv_transpose1d_and_3d():
    c1 = nn.ConvTranspose1d(2, 4, 3)
    c3 = nn.ConvTranspose3d(2, 3, (1, 2, 2))
    mats = weight_matrices(Holder(c1=c1, c3=c3))
    assert torch.equal(mats["c1"], c1.weight.detach().permute(1, 0, 2).reshape(4, -1))
    assert torch.equal(mats["c3"], c3.weight.detach().permute(1, 0, 2, 3, 4).reshape(3, -1))


def test_grouped_conv_transpose_shape():
    conv = nn.ConvTranspose2d(4, 6, 3, groups=2)  # stored (4, 3, 3, 3)
    W = weight_matrices(Holder(up=conv))["up"]
    assert W.shape == (6 // 2, 4 * 3 * 3)
    assert torch.equal(W, conv.weight.detach().permute(1, 0, 2, 3).reshape(3, -1))


# ---------------------------------------------------------------------------- attention


def test_multihead_attention_blocks():
    d, heads = 8, 2
    attn = nn.MultiheadAttention(d, heads)
    mats = weight_matrices(Holder(attn=attn))
    assert list(mats) == [
        "attn.in_proj_weight",
        "attn.in_proj_weight.q",
        "attn.in_proj_weight.k",
        "attn.in_proj_weight.v",
        "attn.out_proj",
    ]
    W = attn.in_proj_weight
    assert mats["attn.in_proj_weight"].shape == (3 * d, d)
    assert torch.equal(mats["attn.in_proj_weight"], W)
    for i, x in enumerate("qkv"):
        block = mats[f"attn.in_proj_weight.{x}"]
        assert block.shape == (d, d)
        assert torch.equal(block, W[i * d : (i + 1) * d])
        assert shares_storage(block, W)
    assert torch.equal(mats["attn.out_proj"], attn.out_proj.weight)


def test_multihead_attention_heads():
    d, heads = 12, 3
    attn = nn.MultiheadAttention(d, heads)
    mats = weight_matrices(Holder(attn=attn), heads=True)
    d_head = d // heads
    W = attn.in_proj_weight
    expected_names = ["attn.in_proj_weight"]
    for x in "qkv":
        expected_names += [f"attn.in_proj_weight.{x}"]
        expected_names += [f"attn.in_proj_weight.{x}.h{h}" for h in range(heads)]
    expected_names += [f"attn.out_proj.h{h}" for h in range(heads)] + ["attn.out_proj"]
    assert list(mats) == expected_names
    W_O = attn.out_proj.weight
    for h in range(heads):  # the output projection's input columns of head h
        assert torch.equal(mats[f"attn.out_proj.h{h}"], W_O[:, h * d_head : (h + 1) * d_head])
    for i, x in enumerate("qkv"):
        block = W[i * d : (i + 1) * d]
        for h in range(heads):
            head = mats[f"attn.in_proj_weight.{x}.h{h}"]
            assert head.shape == (d_head, d)
            assert torch.equal(head, block[h * d_head : (h + 1) * d_head])
    # Without heads=True there are no per-head blocks.
    assert not any(".h" in name for name in weight_matrices(Holder(attn=attn)))


def test_multihead_attention_separate_kdim_vdim():
    d, heads = 8, 2
    attn = nn.MultiheadAttention(d, heads, kdim=5, vdim=6)
    assert attn.in_proj_weight is None
    mats = weight_matrices(Holder(attn=attn))
    assert list(mats) == [
        "attn.q_proj_weight",
        "attn.k_proj_weight",
        "attn.v_proj_weight",
        "attn.out_proj",
    ]
    assert mats["attn.q_proj_weight"].shape == (d, d)
    assert mats["attn.k_proj_weight"].shape == (d, 5)
    assert mats["attn.v_proj_weight"].shape == (d, 6)
    for x in "qkv":
        assert torch.equal(mats[f"attn.{x}_proj_weight"], getattr(attn, f"{x}_proj_weight"))
    with_heads = weight_matrices(Holder(attn=attn), heads=True)
    assert with_heads["attn.k_proj_weight.h1"].shape == (d // heads, 5)
    assert torch.equal(with_heads["attn.k_proj_weight.h1"], attn.k_proj_weight[d // heads :])


def test_transformer_encoder_layer_names():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    names = list(weight_matrices(Holder(enc=layer)))
    assert names == [
        "enc.self_attn.in_proj_weight",
        "enc.self_attn.in_proj_weight.q",
        "enc.self_attn.in_proj_weight.k",
        "enc.self_attn.in_proj_weight.v",
        "enc.self_attn.out_proj",
        "enc.linear1",
        "enc.linear2",
    ]


# ---------------------------------------------------------------------------- recurrent


def recurrent_expected(rnn: nn.RNNBase, prefix: str, gates: str) -> dict[str, torch.Tensor]:
    """Independent expectation: each weight whole, then its gate chunks in order."""
    out = {}
    suffixes = ["", "_reverse"] if rnn.bidirectional else [""]
    for layer in range(rnn.num_layers):
        for suffix in suffixes:
            kinds = ["ih", "hh"] + (["hr"] if getattr(rnn, "proj_size", 0) else [])
            for kind in kinds:
                name = f"weight_{kind}_l{layer}{suffix}"
                W = getattr(rnn, name)
                out[f"{prefix}.{name}"] = W
                if kind != "hr":
                    for gate, chunk in zip(gates, W.chunk(len(gates), 0), strict=True):
                        out[f"{prefix}.{name}.{gate}"] = chunk
    return out


def check_recurrent(mats: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert list(mats) == list(expected)
    for name, W in expected.items():
        assert mats[name].shape == W.shape, name
        assert torch.equal(mats[name], W), name
        assert not mats[name].requires_grad


def test_lstm_bidirectional_two_layers():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    mats = weight_matrices(Holder(lstm=lstm))
    check_recurrent(mats, recurrent_expected(lstm, "lstm", "ifgo"))
    assert mats["lstm.weight_ih_l0"].shape == (16, 3)
    assert mats["lstm.weight_ih_l1_reverse"].shape == (16, 8)
    assert mats["lstm.weight_hh_l0_reverse.g"].shape == (4, 4)
    # Gate order is PyTorch's: rows [0:h] input, [h:2h] forget, [2h:3h] cell, [3h:4h] output.
    assert torch.equal(mats["lstm.weight_hh_l1.f"], lstm.weight_hh_l1[4:8])
    assert not any("bias" in name for name in mats)


def test_gru_gates():
    gru = nn.GRU(5, 3, num_layers=1)
    mats = weight_matrices(Holder(gru=gru))
    check_recurrent(mats, recurrent_expected(gru, "gru", "rzn"))
    assert torch.equal(mats["gru.weight_ih_l0.z"], gru.weight_ih_l0[3:6])


def test_lstm_with_projection_keeps_weight_hr_whole():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    mats = weight_matrices(Holder(lstm=lstm))
    check_recurrent(mats, recurrent_expected(lstm, "lstm", "ifgo"))
    assert mats["lstm.weight_hr_l0"].shape == (2, 4)
    assert mats["lstm.weight_hh_l0"].shape == (16, 2)
    assert not any(name.startswith("lstm.weight_hr_l0.") for name in mats)


def test_plain_rnn_not_split():
    rnn = nn.RNN(3, 4, nonlinearity="relu")
    mats = weight_matrices(Holder(rnn=rnn))
    assert list(mats) == ["rnn.weight_ih_l0", "rnn.weight_hh_l0"]


# ------------------------------------------------------------------ skipping and naming


def test_one_dimensional_parameters_skipped():
    model = nn.Sequential(
        nn.Linear(4, 6),
        nn.LayerNorm(6),
        nn.BatchNorm1d(6),
        nn.Linear(6, 2, bias=True),
    )
    mats = weight_matrices(model)
    assert list(mats) == ["0", "3"]
    assert not any("bias" in name for name in mats)
    assert all(W.ndim == 2 for W in mats.values())


def test_other_parameters_with_two_or_more_dims():
    custom = nn.Module()
    custom.kernel = nn.Parameter(torch.randn(3, 4, 5))
    custom.table = nn.Parameter(torch.randn(2, 7))
    custom.scale = nn.Parameter(torch.randn(7))
    mats = weight_matrices(Holder(custom=custom))
    assert list(mats) == ["custom.kernel", "custom.table"]
    assert mats["custom.kernel"].shape == (3, 20)
    assert torch.equal(mats["custom.kernel"], custom.kernel.reshape(3, 20))


def test_order_follows_depth():
    model = nn.Sequential(
        nn.Linear(2, 3),
        nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 5)),
        nn.Linear(5, 6),
    )
    names = list(weight_matrices(model))
    assert names == ["0", "1.0", "1.2", "2"]
    shapes = [tuple(W.shape) for W in weight_matrices(model).values()]
    assert shapes == [(3, 2), (4, 3), (5, 4), (6, 5)]


def test_wrapper_prefixes_dropped():
    inner = Holder(fc=nn.Linear(3, 2), head=nn.Linear(2, 1))
    wrapped = Holder(module=inner)  # like DataParallel / DistributedDataParallel
    assert [n for n, _ in wrapped.named_parameters()][0] == "module.fc.weight"
    assert list(weight_matrices(wrapped)) == ["fc", "head"]
    compiled = Holder(_orig_mod=Holder(module=inner))  # like torch.compile(DDP(model))
    assert list(weight_matrices(compiled)) == ["fc", "head"]
    assert weight_matrices(compiled)["fc"].data_ptr() == inner.fc.weight.data_ptr()


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("_orig_mod.module.fc.weight", "fc"),
        ("module._orig_mod.fc.weight", "fc"),
        ("module.fc.weight", "fc"),
        ("_orig_mod.fc.weight", "fc"),
        ("encoder.layers.0.weight", "encoder.layers.0"),
        ("fc.weight", "fc"),
        ("attn.in_proj_weight", "attn.in_proj_weight"),
        ("lstm.weight_ih_l0", "lstm.weight_ih_l0"),
        ("fc.bias", "fc.bias"),
        ("submodule.fc.weight", "submodule.fc"),
        ("weight", "weight"),
    ],
)
def test_canonical_name(raw, canonical):
    assert canonical_name(raw) == canonical


def test_shared_module_appears_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    mats = weight_matrices(model)
    assert list(mats) == ["0"]


def test_tied_weights_appear_once():
    model = Holder(embed=nn.Embedding(10, 4), head=nn.Linear(4, 10, bias=False))
    model.head.weight = model.embed.weight
    mats = weight_matrices(model)
    assert list(mats) == ["embed"]


def test_grokking_model_matrices():
    """The one task model: every name its alignment pairs use is present."""
    from specdyn.models.grokking import GrokkingModel, OneLayerTransformer, alignment_pairs

    model = OneLayerTransformer(7, GrokkingModel(d_model=16, n_heads=2, d_mlp=32))
    mats = weight_matrices(model)
    assert list(mats) == [
        "embed",
        "attn.in_proj_weight",
        "attn.in_proj_weight.q",
        "attn.in_proj_weight.k",
        "attn.in_proj_weight.v",
        "attn.out_proj",
        "mlp.fc_in",
        "mlp.fc_out",
        "unembed",
    ]
    assert mats["embed"].shape == (8, 16)
    for pair in alignment_pairs():
        assert pair.prev in mats and pair.next in mats, pair.name
