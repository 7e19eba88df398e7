"""The paper's networks, one file each: model, frozen config with the paper's values, and
``alignment_pairs(config)`` naming the consecutive matrices whose alignment is recorded.

| module | model | paper |
|---|---|---|
| ``vgg`` | VGG-16-BN for CIFAR-10 | A.1 |
| ``unet`` | score UNet for MNIST diffusion, DDPM helpers | A.2 |
| ``lstm`` | bidirectional LSTM for CTC speech recognition | A.3 |
| ``transformer_lm`` | Pythia-160M-like decoder-only LM | A.4 |
| ``mlp`` | 4-layer ReLU MLP for random labels | A.7 |

Each module also names ``FIGURE_MATRIX`` and ``FIGURE_PAIR``, the paper's single-matrix
choices at its default config. LSTM pairs into a bidirectional layer use
``Pair.next_rows``; :func:`specdyn.spectral.pair_alignment` computes any declared pair.
"""

from specdyn.models import lstm, mlp, transformer_lm, unet, vgg
from specdyn.models.lstm import LSTMConfig, SpeechLSTM
from specdyn.models.mlp import MLP, MLPConfig
from specdyn.models.transformer_lm import TransformerLM, TransformerLMConfig
from specdyn.models.unet import UNet, UNetConfig, ddpm_loss, sample, sigmoid_betas
from specdyn.models.vgg import VGG, VGGConfig

__all__ = [
    "lstm",
    "mlp",
    "transformer_lm",
    "unet",
    "vgg",
    "LSTMConfig",
    "SpeechLSTM",
    "MLP",
    "MLPConfig",
    "TransformerLM",
    "TransformerLMConfig",
    "UNet",
    "UNetConfig",
    "ddpm_loss",
    "sample",
    "sigmoid_betas",
    "VGG",
    "VGGConfig",
]
