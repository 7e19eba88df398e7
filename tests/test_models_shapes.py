"""Output shapes and basic behaviour of the paper's models on tiny configs."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from specdyn.models import (
    MLP,
    VGG,
    LSTMConfig,
    MLPConfig,
    SpeechLSTM,
    TransformerLM,
    TransformerLMConfig,
    UNet,
    UNetConfig,
    VGGConfig,
    ddpm_loss,
    sample,
    sigmoid_betas,
)

TINY_UNET = UNetConfig(channels=(4, 8, 8, 16), embed_dim=8)
TINY_LM = TransformerLMConfig(vocab_size=11, context=8, n_layers=2, d_model=16, n_heads=2, d_mlp=24)
TINY_LSTM = LSTMConfig(n_mels=6, hidden=5, n_layers=3, vocab_size=7)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_vgg_logits_and_layout():
    model = VGG(VGGConfig(width=1 / 16, num_classes=7))
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13 and all(c.kernel_size == (3, 3) for c in convs)
    assert [c.out_channels for c in convs][-1] == model.fc.in_features == 32


def test_vgg_paper_widths():
    model = VGG(VGGConfig())
    assert [c.out_channels for c in model.convs][::3] == [64, 128, 256, 512, 512]
    assert model.fc.in_features == 512


def test_mlp_flattens_images():
    model = MLP(MLPConfig(widths=(12, 5, 5, 3)))
    assert model(torch.randn(4, 3, 2, 2)).shape == (4, 3)
    assert MLP(MLPConfig()).layers[0].in_features == 3072
    with pytest.raises(ValueError, match="two widths"):
        MLPConfig(widths=(3,))


@pytest.mark.parametrize("size", [28, 32])
def test_unet_predicts_noise_of_input_shape(size):
    model = UNet(TINY_UNET)
    x, t = torch.randn(3, 1, size, size), torch.tensor([0, 17, 999])
    assert model(x, t).shape == (3, 1, size, size)


def test_unet_has_convs_and_transposed_convs():
    model = UNet(TINY_UNET)
    kinds = [type(m) for m in model.modules()]
    assert kinds.count(nn.Conv2d) == 4 and kinds.count(nn.ConvTranspose2d) == 4
    with pytest.raises(ValueError, match="4 levels"):
        UNetConfig(channels=(4, 8, 8))


def test_unet_depends_on_time():
    model = UNet(TINY_UNET)
    x = torch.randn(1, 1, 28, 28)
    assert not torch.allclose(model(x, torch.tensor([3])), model(x, torch.tensor([700])))


def test_sigmoid_betas_range_and_monotone():
    betas = sigmoid_betas()
    assert betas.shape == (1000,)
    assert betas.min() >= 1e-5 and betas.max() <= 5e-3
    assert bool((betas.diff() > 0).all())
    assert betas[0] < 3e-5 and betas[-1] > 4.9e-3  # sigmoid(+-6) nearly reaches both ends


def test_ddpm_loss_is_a_scalar_with_gradients():
    model = UNet(TINY_UNET)
    alphas_bar = torch.cumprod(1 - sigmoid_betas(), 0)
    x0, noise = torch.randn(2, 1, 28, 28), torch.randn(2, 1, 28, 28)
    loss = ddpm_loss(model, x0, torch.tensor([5, 900]), noise, alphas_bar)
    loss.backward()
    assert loss.ndim == 0 and model.conv3.weight.grad is not None


def test_sample_shape_and_determinism():
    model = UNet(TINY_UNET)
    betas = sigmoid_betas(T=4)
    a = sample(model, (2, 1, 28, 28), betas, torch.Generator().manual_seed(1))
    b = sample(model, (2, 1, 28, 28), betas, torch.Generator().manual_seed(1))
    assert a.shape == (2, 1, 28, 28) and torch.isfinite(a).all()
    assert torch.equal(a, b)


def test_lstm_log_probs_normalised():
    model = SpeechLSTM(TINY_LSTM)
    out = model(torch.randn(2, 9, 6), torch.tensor([9, 4]))
    assert out.shape == (9, 2, 7)  # (T, B, V) for nn.CTCLoss
    assert torch.allclose(out.exp().sum(-1), torch.ones(9, 2), atol=1e-5)
    assert model(torch.randn(2, 9, 6)).shape == (9, 2, 7)  # lengths optional


def test_lstm_ignores_padding_and_trains_with_ctc():
    model = SpeechLSTM(TINY_LSTM)
    x = torch.randn(1, 6, 6)
    padded = torch.cat([x, torch.randn(1, 3, 6)], dim=1)
    short = model(x, torch.tensor([6]))
    long = model(padded, torch.tensor([6]))
    assert torch.allclose(short, long[:6], atol=1e-6)  # the reverse pass starts at frame 6
    loss = nn.CTCLoss(blank=0)(long, torch.tensor([[2, 3]]), torch.tensor([6]), torch.tensor([2]))
    loss.backward()
    assert torch.isfinite(loss)


def test_lstm_paper_config():
    lstm = SpeechLSTM(LSTMConfig()).lstm
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers) == (40, 256, 4)
    assert lstm.bidirectional and lstm.batch_first


def test_lm_logits_shape():
    model = TransformerLM(TINY_LM)
    assert model(torch.randint(0, 11, (3, 8))).shape == (3, 8, 11)
    with pytest.raises(ValueError, match="context"):
        model(torch.randint(0, 11, (1, 9)))


def test_lm_is_causal():
    model = TransformerLM(TINY_LM)
    tokens = torch.randint(0, 11, (2, 8))
    changed = tokens.clone()
    changed[:, 5] = (changed[:, 5] + 1) % 11
    a, b = model(tokens), model(changed)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6)
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_lm_is_causal_in_eval_without_grad():
    model = TransformerLM(TINY_LM).eval()
    tokens = torch.randint(0, 11, (2, 8))
    changed = tokens.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 11
    with torch.no_grad():
        assert torch.allclose(model(tokens)[:, :-1], model(changed)[:, :-1], atol=1e-6)


def test_lm_final_norm_option():
    assert isinstance(TransformerLM(TINY_LM).ln_final, nn.Identity)
    final = dataclasses.replace(TINY_LM, final_norm=True)
    assert isinstance(TransformerLM(final).ln_final, nn.LayerNorm)
