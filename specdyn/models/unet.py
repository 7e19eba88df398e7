"""The score UNet of the paper's image generation task (Appendix A.2), and DDPM helpers.

Wang & Vastola's residual UNet as the authors configured it: channels (64, 128, 256, 512),
time embedding 512, GroupNorm, swish (SiLU), Gaussian Fourier time features (scale 30) fed
the integer diffusion step. Four 3x3 convolutions go down (the first unpadded at stride 1,
then stride 2), four 3x3 transposed convolutions come up, and each level's encoder output
is *added* to the decoder's input at that level (the authors' ``UNet_res``: additive skips,
so every decoder layer reads exactly the channels one layer produced). A Linear layer
projects the time embedding into every block but the last. The model predicts the noise
epsilon. Transposed convolutions are given the skip's size, so 28x28 and 32x32 both work.

    x (B,1,28,28) -conv1-> 26 -conv2-> 12 -conv3-> 5 -conv4-> 2
                   tconv1 <- 26 <-tconv2- 12 <-tconv3- 5 <-tconv4- 2     (+ skips)

Matrix names (``weight_matrices``): ``time_proj`` (E, E); ``dense1`` ... ``dense7``
(c, E); ``conv1`` ... ``conv4`` (c_out, c_in * 9); ``tconv4`` ... ``tconv1`` (c_out,
c_in * 9, after the transpose). The paper's "3rd convolutional layer" is ``conv3``
(c[1] -> c[2], stride 2): SV plot ``conv3``; alignment ``conv3->conv4`` at conv4's centre.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specdyn.models.configs import UNetConfig
from specdyn.spectral.pairs import Pair

KERNEL = (3, 3)


class GaussianFourierFeatures(nn.Module):
    """t (B,) -> [sin(2 pi f t), cos(2 pi f t)] (B, E), f ~ N(0, scale^2) fixed at init."""

    freq: Tensor

    def __init__(self, dim: int, scale: float):
        super().__init__()
        self.register_buffer("freq", torch.randn(dim // 2) * scale)  # saved, never trained

    def forward(self, t: Tensor) -> Tensor:
        angle = 2 * math.pi * t.float()[:, None] * self.freq  # (B, E/2)
        return torch.cat([angle.sin(), angle.cos()], dim=-1)  # (B, E)


def _norm(groups: int, c: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, c), c)


class UNet(nn.Module):
    """(x (B, C, H, W), t (B,) integer steps) -> predicted noise (B, C, H, W)."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.config = cfg
        c0, c1, c2, c3 = cfg.channels
        E, g = cfg.embed_dim, cfg.groups
        self.time_features = GaussianFourierFeatures(E, cfg.fourier_scale)
        self.time_proj = nn.Linear(E, E)
        # encoder: resolution goes down
        self.conv1 = nn.Conv2d(cfg.in_channels, c0, 3, stride=1, bias=False)
        self.dense1, self.norm1 = nn.Linear(E, c0), _norm(4, c0)
        self.conv2 = nn.Conv2d(c0, c1, 3, stride=2, bias=False)
        self.dense2, self.norm2 = nn.Linear(E, c1), _norm(g, c1)
        self.conv3 = nn.Conv2d(c1, c2, 3, stride=2, bias=False)
        self.dense3, self.norm3 = nn.Linear(E, c2), _norm(g, c2)
        self.conv4 = nn.Conv2d(c2, c3, 3, stride=2, bias=False)
        self.dense4, self.norm4 = nn.Linear(E, c3), _norm(g, c3)
        # decoder: resolution goes up
        self.tconv4 = nn.ConvTranspose2d(c3, c2, 3, stride=2, bias=False)
        self.dense5, self.tnorm4 = nn.Linear(E, c2), _norm(g, c2)
        self.tconv3 = nn.ConvTranspose2d(c2, c1, 3, stride=2, bias=False)
        self.dense6, self.tnorm3 = nn.Linear(E, c1), _norm(g, c1)
        self.tconv2 = nn.ConvTranspose2d(c1, c0, 3, stride=2, bias=False)
        self.dense7, self.tnorm2 = nn.Linear(E, c0), _norm(g, c0)
        self.tconv1 = nn.ConvTranspose2d(c0, cfg.in_channels, 3, stride=1)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        emb = F.silu(self.time_proj(self.time_features(t)))  # (B, E)

        def block(h: Tensor, dense: nn.Linear, norm: nn.GroupNorm) -> Tensor:
            return F.silu(norm(h + dense(emb)[:, :, None, None]))  # time added per channel

        h1 = block(self.conv1(x), self.dense1, self.norm1)  # (B, c0, H - 2, W - 2)
        h2 = block(self.conv2(h1), self.dense2, self.norm2)  # (B, c1, ~H/2, ~W/2)
        h3 = block(self.conv3(h2), self.dense3, self.norm3)  # (B, c2, ~H/4, ~W/4)
        h4 = block(self.conv4(h3), self.dense4, self.norm4)  # (B, c3, ~H/8, ~W/8)
        h = block(self.tconv4(h4, output_size=h3.shape[-2:]), self.dense5, self.tnorm4)
        h = block(self.tconv3(h + h3, output_size=h2.shape[-2:]), self.dense6, self.tnorm3)
        h = block(self.tconv2(h + h2, output_size=h1.shape[-2:]), self.dense7, self.tnorm2)
        return self.tconv1(h + h1, output_size=x.shape[-2:])  # (B, C, H, W)


def alignment_pairs(cfg: UNetConfig) -> list[Pair]:
    """Layers that feed each other directly (24 pairs; next_kernel: the next layer's centre).

    Encoder chain conv1 -> conv2 -> conv3 -> conv4 -> tconv4; decoder chain tconv4 -> tconv3
    -> tconv2 -> tconv1; skips conv_i -> tconv_i (i = 1..3, added to the decoder input); the
    time projections dense_i -> the layer that reads their block's output; and the shared
    time embedding time_proj -> dense_i. Names do not depend on ``cfg``.
    """
    chain = ["conv1", "conv2", "conv3", "conv4", "tconv4", "tconv3", "tconv2", "tconv1"]
    pairs = [Pair(a, b, next_kernel=KERNEL) for a, b in pairwise(chain)]
    pairs += [Pair(f"conv{i}", f"tconv{i}", next_kernel=KERNEL) for i in (3, 2, 1)]
    # dense_i is added to the output of chain[i - 1], so it feeds chain[i]
    pairs += [Pair(f"dense{i}", chain[i], next_kernel=KERNEL) for i in range(1, 8)]
    pairs += [Pair("time_proj", f"dense{i}") for i in range(1, 8)]
    return pairs


def sigmoid_betas(T: int = 1000, low: float = 1e-5, high: float = 5e-3) -> Tensor:
    """(T,) increasing noise schedule sigmoid(linspace(-6, 6, T)) * (high - low) + low."""
    return torch.sigmoid(torch.linspace(-6.0, 6.0, T)) * (high - low) + low


def ddpm_loss(model: nn.Module, x0: Tensor, t: Tensor, noise: Tensor, alphas_bar: Tensor) -> Tensor:
    """MSE between ``noise`` and the model's prediction of it from x_t (Ho et al. 2020).

    x0, noise: (B, C, H, W). t: (B,) integer steps. alphas_bar: (T,) cumprod(1 - betas).
    """
    a = alphas_bar[t][:, None, None, None]  # (B, 1, 1, 1)
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    return F.mse_loss(model(x_t, t), noise)


@torch.no_grad()
def sample(
    model: nn.Module, shape: tuple[int, ...], betas: Tensor, generator: torch.Generator
) -> Tensor:
    """Ancestral DDPM sampling from x_T ~ N(0, I) down to x_0, sigma_t^2 = beta_t.

    shape: (B, C, H, W). betas: (T,) on the device to sample on; ``generator`` must live on
    that device too. No noise is added at the last step (t = 0).
    """
    alphas = 1 - betas
    alphas_bar = torch.cumprod(alphas, 0)
    x = torch.randn(shape, generator=generator, device=betas.device, dtype=betas.dtype)
    for step in reversed(range(len(betas))):
        t = torch.full((shape[0],), step, device=betas.device, dtype=torch.long)
        eps = model(x, t)  # (B, C, H, W)
        x = (x - betas[step] / (1 - alphas_bar[step]).sqrt() * eps) / alphas[step].sqrt()
        if step > 0:
            z = torch.randn(shape, generator=generator, device=betas.device, dtype=betas.dtype)
            x = x + betas[step].sqrt() * z
    return x
