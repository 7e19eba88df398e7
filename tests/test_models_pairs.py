"""Every declared alignment pair of every model names real matrices of matching dimensions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from specdyn.config import to_dict
from specdyn.figures import figure_choices
from specdyn.models import (
    MLP,
    VGG,
    GrokkingModel,
    LSTMConfig,
    MLPConfig,
    OneLayerTransformer,
    SpeechLSTM,
    TransformerLM,
    TransformerLMConfig,
    UNet,
    UNetConfig,
    VGGConfig,
    grokking,
    lstm,
    mlp,
    transformer_lm,
    unet,
    vgg,
)
from specdyn.spectral import (
    Pair,
    PairGroup,
    Spectrum,
    decompose,
    pair_alignment,
    weight_matrices,
)
from specdyn.tasks import get_preset

# (module, model, heads, expected number of pairs)
CASES = {
    "vgg": (vgg, VGG(VGGConfig(width=1 / 16)), False, 13),
    "unet": (unet, UNet(UNetConfig(channels=(4, 8, 8, 16), embed_dim=8)), False, 24),
    "lstm": (lstm, SpeechLSTM(LSTMConfig(n_mels=6, hidden=5, n_layers=3, vocab_size=7)), False, 26),
    "transformer_lm": (
        transformer_lm,
        TransformerLM(
            TransformerLMConfig(
                vocab_size=11, context=8, n_layers=3, d_model=16, n_heads=4, d_mlp=24
            )
        ),
        True,
        16,
    ),
    "mlp": (mlp, MLP(MLPConfig(widths=(12, 7, 7, 7, 3))), False, 3),
}


def members(pair: Pair | PairGroup) -> tuple[Pair, ...]:
    return pair.pairs if isinstance(pair, PairGroup) else (pair,)


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    module, model, heads, count = CASES[request.param]
    pairs = module.alignment_pairs(model.config)
    spectra = decompose(weight_matrices(model, heads=heads), k=100)
    return module, pairs, spectra, count


def test_pair_count(case):
    _, pairs, _, count = case
    assert len(pairs) == count
    assert len({p.name for p in pairs}) == count  # names are unique: they key the run store


def test_pairs_name_existing_matrices(case):
    _, pairs, spectra, _ = case
    for pair in pairs:
        for p in members(pair):
            assert p.prev in spectra and p.next in spectra, p.name


def test_every_pair_aligns_without_shape_errors(case):
    _, pairs, spectra, _ = case
    for pair in pairs:
        A = pair_alignment(spectra, pair)
        assert A.ndim == 2 and min(A.shape) >= 1, pair.name
        assert bool(((A >= 0) & (A <= 1 + 1e-5)).all()), pair.name


def test_figure_choices_exist_at_paper_config():
    """The figures table names matrices and pairs that the paper-sized models record."""
    paper = {
        "vgg16-cifar10": (VGG(VGGConfig()), vgg),
        "unet-mnist": (UNet(UNetConfig()), unet),
        "lstm-librispeech": (SpeechLSTM(LSTMConfig()), lstm),
        "mlp-cifar10": (MLP(MLPConfig()), mlp),
    }
    for task, (model, module) in paper.items():
        choices = figure_choices(to_dict(get_preset(task, "paper")))
        names = {p.name for p in module.alignment_pairs(model.config)}
        assert choices["matrix"] in weight_matrices(model), task
        assert choices["pair"] in names, task
    choices = figure_choices(to_dict(get_preset("transformer-wikitext103", "paper")))
    lm_pairs = {p.name for p in transformer_lm.alignment_pairs(TransformerLMConfig())}
    assert choices["pair"] in lm_pairs
    assert choices["matrix"] == "blocks.7.mlp.fc_in"
    grok = OneLayerTransformer(113, GrokkingModel())
    choices = figure_choices(to_dict(get_preset("grokking", "paper-grok")))
    assert choices["matrix"] in weight_matrices(grok)
    assert choices["pair"] in {p.name for p in grokking.alignment_pairs()}


def test_vgg_conv_pairs_use_the_centre_position():
    pairs = vgg.alignment_pairs(VGGConfig())
    assert all(p.next_kernel == (3, 3) for p in pairs[:-1])
    assert pairs[-1] == Pair("convs.12", "fc")


def test_lm_head_groups_cover_every_head():
    cfg = TransformerLMConfig(n_layers=2, n_heads=3, d_model=12, vocab_size=5, context=4)
    groups = [p for p in transformer_lm.alignment_pairs(cfg) if isinstance(p, PairGroup)]
    assert [g.name for g in groups] == [
        "blocks.0.attn.q<->k",
        "blocks.0.attn.v->o",
        "blocks.1.attn.q<->k",
        "blocks.1.attn.v->o",
    ]
    assert all(len(g.pairs) == 3 for g in groups)
    assert groups[0].pairs[2] == Pair(
        "blocks.0.attn.in_proj_weight.q.h2", "blocks.0.attn.in_proj_weight.k.h2", "U", "U"
    )


def test_lm_needs_heads():
    model = TransformerLM(
        TransformerLMConfig(vocab_size=5, context=4, n_layers=1, d_model=8, n_heads=2)
    )
    spectra = decompose(weight_matrices(model, heads=False))
    with pytest.raises(KeyError, match="q.h0"):
        pair_alignment(spectra, transformer_lm.alignment_pairs(model.config)[1])


def orthogonal(n: int, seed: int) -> torch.Tensor:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return torch.from_numpy(q * np.sign(np.diag(r)))


def test_mlp_aligned_chain_has_unit_diagonal():
    """fc2 = U2 S2 U1^T, with fc1 = U1 S1 V1^T: fc2 reads exactly fc1's output basis."""
    model = MLP(MLPConfig(widths=(10, 6, 4, 3))).double()
    U1, S1, V1 = torch.linalg.svd(model.layers[0].weight.detach(), full_matrices=False)
    U2 = orthogonal(4, seed=0)
    with torch.no_grad():
        model.layers[1].weight.copy_(
            U2 @ torch.diag(torch.tensor([4.0, 3.0, 2.0, 1.0], dtype=torch.float64)) @ U1[:, :4].T
        )
    spectra = decompose(weight_matrices(model), k=None)
    A = pair_alignment(spectra, mlp.alignment_pairs(model.config)[0])
    assert A.shape == (6, 4)
    assert torch.allclose(A.diagonal(), torch.ones(4, dtype=torch.float64), atol=1e-8)


def test_unrelated_mlp_layers_are_not_aligned():
    model = MLP(MLPConfig(widths=(40, 30, 30, 3)))
    spectra = decompose(weight_matrices(model))
    A = pair_alignment(spectra, mlp.alignment_pairs(model.config)[0])
    assert A.diagonal().mean() < 0.5


def test_sliced_pair_reads_the_half_its_prev_feeds():
    """next's inputs are [a; b]; next's V restricted to a's rows is a's output basis."""
    H = 4
    Ua = orthogonal(H, seed=1)
    V_next = torch.cat([Ua, orthogonal(H, seed=2)]) / 2**0.5  # (2H, H), orthonormal columns
    spectra = {
        "a": Spectrum(torch.ones(H, dtype=torch.float64), Ua, orthogonal(H, seed=3)),
        "next": Spectrum(torch.ones(H, dtype=torch.float64), orthogonal(3, seed=4), V_next),
    }
    A = pair_alignment(spectra, Pair("a", "next", next_rows=(0, H)))
    assert torch.allclose(A, torch.eye(H, dtype=torch.float64) / 2**0.5, atol=1e-10)
    with pytest.raises(ValueError, match="outside"):
        pair_alignment(spectra, Pair("a", "next", next_rows=(H, 3 * H)))


def test_lstm_pairs_slice_by_direction():
    cfg = LSTMConfig(hidden=8, n_layers=2)
    pairs = {p.name: p for p in lstm.alignment_pairs(cfg)}
    fwd = pairs["lstm.weight_ih_l0.g->lstm.weight_ih_l1_reverse.g"]
    rev = pairs["lstm.weight_hh_l0_reverse.g->lstm.weight_ih_l1.g"]
    assert fwd.next_rows == (0, 8) and rev.next_rows == (8, 16)
    assert pairs["lstm.weight_ih_l1_reverse.g->lstm.weight_hh_l1_reverse.g"] == Pair(
        "lstm.weight_ih_l1_reverse.g", "lstm.weight_hh_l1_reverse.g"
    )
    assert pairs["lstm.weight_hh_l1.g->fc"].next_rows == (0, 8)
    assert len(lstm.alignment_pairs(LSTMConfig())) == 36


def test_lstm_forward_output_is_the_first_half():
    """Zeroing the reverse direction of the top layer leaves fc reading only the first H."""
    model = SpeechLSTM(LSTMConfig(n_mels=3, hidden=4, n_layers=1, vocab_size=5))
    with torch.no_grad():
        model.fc.weight[:, :4] = 0.0
        model.fc.bias.zero_()
        for name, p in model.lstm.named_parameters():
            if "reverse" not in name:
                p.normal_()
    x = torch.randn(1, 6, 3)
    a = model(x)
    with torch.no_grad():
        for name, p in model.lstm.named_parameters():
            if "reverse" not in name:
                p.normal_()
    assert torch.allclose(a, model(x))  # fc reads H:2H only, and the reverse pass is unchanged


def test_unet_dense_feeds_the_next_layer():
    pairs = {p.name: p for p in unet.alignment_pairs(UNetConfig())}
    assert pairs["dense1->conv2"].next_kernel == (3, 3)
    assert "dense4->tconv4" in pairs and "dense7->tconv1" in pairs
    assert "conv3->tconv3" in pairs and "time_proj->dense5" in pairs


def test_unet_paper_channels_pair_dimensions():
    model = UNet(UNetConfig())
    W = weight_matrices(model)
    assert W["conv3"].shape == (256, 128 * 9)
    assert W["conv4"].shape == (512, 256 * 9)
    assert W["tconv4"].shape == (256, 512 * 9)
    assert W["tconv1"].shape == (1, 64 * 9)
    assert isinstance(model.tconv1, nn.ConvTranspose2d)
