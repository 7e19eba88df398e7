"""VGG-16 with BatchNorm for CIFAR (paper Appendix A.1; open_lth's ``cifar_vgg_16``).

Thirteen 3x3 convolutions (padding 1), each followed by BatchNorm and ReLU, max-pooling after
convolutions 2, 4, 7 and 10, then a global average pool and one Linear layer:

    64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512 -> fc

On 32x32 inputs the last feature map is 2x2, so the average pool is open_lth's AvgPool2d(2).
Convolutions keep their bias (as in open_lth) even though BatchNorm follows. PyTorch's
default initialisation, as the authors used.

Matrix names (``weight_matrices``): ``convs.0`` ... ``convs.12`` as (c_out, c_in * 9), and
``fc`` (num_classes, c_last). The paper's SV plot is the 12th convolution (``convs.11``);
its alignment plot is the 11th -> 12th convolution at the 12th's centre position.
"""

from __future__ import annotations

from itertools import pairwise

import torch.nn.functional as F
from torch import Tensor, nn

from specdyn.models.configs import WIDTHS, VGGConfig
from specdyn.spectral.pairs import Pair

POOL_AFTER = (1, 3, 6, 9)  # 2x2 max-pool after these convs (0-based)
KERNEL = (3, 3)


class VGG(nn.Module):
    """(B, in_channels, H, W) images -> (B, num_classes) logits; H, W divisible by 16."""

    def __init__(self, cfg: VGGConfig):
        super().__init__()
        self.config = cfg
        c_in = (cfg.in_channels,) + cfg.channels[:-1]
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, KERNEL, padding=1) for a, b in zip(c_in, cfg.channels, strict=True)
        )
        self.norms = nn.ModuleList(nn.BatchNorm2d(c) for c in cfg.channels)
        self.fc = nn.Linear(cfg.channels[-1], cfg.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            x = F.relu(norm(conv(x)))  # (B, c_i, H_i, W_i)
            if i in POOL_AFTER:
                x = F.max_pool2d(x, 2)  # (B, c_i, H_i / 2, W_i / 2)
        x = x.mean(dim=(2, 3))  # (B, c_last): global average pool
        return self.fc(x)  # (B, num_classes)


def alignment_pairs(cfg: VGGConfig) -> list[Pair]:
    """Each conv -> the next conv (its centre position), and the last conv -> fc.

    The pooling layers keep channels, so a conv's output channels are the next layer's input
    channels. 13 convs give 12 conv pairs plus conv -> fc.
    """
    names = [f"convs.{i}" for i in range(len(WIDTHS))]
    pairs = [Pair(a, b, next_kernel=KERNEL) for a, b in pairwise(names)]
    return pairs + [Pair(names[-1], "fc")]
