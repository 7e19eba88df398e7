"""The paper's networks, one file each: model, frozen config with the paper's values, and
``alignment_pairs(config)`` naming the consecutive matrices whose alignment is recorded.

| module | model | paper |
|---|---|---|
| ``vgg`` | VGG-16-BN for CIFAR-10 | A.1 |
| ``unet`` | score UNet for MNIST diffusion, DDPM helpers | A.2 |
| ``lstm`` | bidirectional LSTM for CTC speech recognition | A.3 |
| ``transformer_lm`` | Pythia-160M-like decoder-only LM | A.4 |
| ``mlp`` | 4-layer ReLU MLP for random labels | A.7 |
| ``grokking`` | one-layer Transformer for modular addition | 3, A.6 |

Which matrix each figure shows is chosen in :mod:`specdyn.figures.choices`. LSTM pairs into
a bidirectional layer use ``Pair.next_rows``; :func:`specdyn.spectral.pair_alignment` computes
any declared pair.
"""

from specdyn.models import grokking, lstm, mlp, transformer_lm, unet, vgg
from specdyn.models.grokking import GrokkingModel, OneLayerTransformer
from specdyn.models.lstm import LSTMConfig, SpeechLSTM
from specdyn.models.mlp import MLP, MLPConfig
from specdyn.models.transformer_lm import TransformerLM, TransformerLMConfig
from specdyn.models.unet import UNet, UNetConfig, ddpm_loss, sample, sigmoid_betas
from specdyn.models.vgg import VGG, VGGConfig

__all__ = [
    "grokking",
    "GrokkingModel",
    "OneLayerTransformer",
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
