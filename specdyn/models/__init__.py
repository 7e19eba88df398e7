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

from typing import TYPE_CHECKING

from specdyn.lazy import lazy_exports

if TYPE_CHECKING:
    from specdyn.models import grokking, lstm, mlp, transformer_lm, unet, vgg
    from specdyn.models.grokking import GrokkingModel, OneLayerTransformer
    from specdyn.models.lstm import LSTMConfig, SpeechLSTM
    from specdyn.models.mlp import MLP, MLPConfig
    from specdyn.models.transformer_lm import TransformerLM, TransformerLMConfig
    from specdyn.models.unet import UNet, UNetConfig, ddpm_loss, sample, sigmoid_betas
    from specdyn.models.vgg import VGG, VGGConfig

__getattr__ = lazy_exports(
    __name__,
    {
        "grokking": "",
        "lstm": "",
        "mlp": "",
        "transformer_lm": "",
        "unet": "",
        "vgg": "",
        "GrokkingModel": "specdyn.models.grokking",
        "OneLayerTransformer": "specdyn.models.grokking",
        "LSTMConfig": "specdyn.models.lstm",
        "SpeechLSTM": "specdyn.models.lstm",
        "MLP": "specdyn.models.mlp",
        "MLPConfig": "specdyn.models.mlp",
        "TransformerLM": "specdyn.models.transformer_lm",
        "TransformerLMConfig": "specdyn.models.transformer_lm",
        "UNet": "specdyn.models.unet",
        "UNetConfig": "specdyn.models.unet",
        "ddpm_loss": "specdyn.models.unet",
        "sample": "specdyn.models.unet",
        "sigmoid_betas": "specdyn.models.unet",
        "VGG": "specdyn.models.vgg",
        "VGGConfig": "specdyn.models.vgg",
    },
)

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
