"""Every model's frozen config (the paper's values as defaults), with no torch import: the
presets, ``specdyn tasks`` and config validation read these without loading a network."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GrokkingModel:
    """Width of the residual stream, heads, MLP width, and whether LayerNorms are used."""

    d_model: int = 128
    n_heads: int = 4
    d_mlp: int = 512
    layer_norm: bool = False


@dataclass(frozen=True)
class LSTMConfig:
    n_mels: int = 40
    hidden: int = 256
    n_layers: int = 4
    vocab_size: int = 30  # specdyn.data.VOCAB_SIZE


@dataclass(frozen=True)
class MLPConfig:
    """widths: input, hidden..., output sizes; len(widths) - 1 Linear layers."""

    widths: tuple[int, ...] = (3072, 256, 256, 256, 10)

    def __post_init__(self) -> None:
        if len(self.widths) < 2:
            raise ValueError(f"an MLP needs at least two widths, got {self.widths}")


@dataclass(frozen=True)
class TransformerLMConfig:
    vocab_size: int = 50304
    context: int = 2048
    n_layers: int = 12
    d_model: int = 768
    n_heads: int = 12
    d_mlp: int = 768
    final_norm: bool = False

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by {self.n_heads} heads")


@dataclass(frozen=True)
class UNetConfig:
    """channels: the four levels' widths. groups: GroupNorm groups (gcd with the width; the
    first level uses 4, as the authors did). fourier_scale: std of the time frequencies."""

    channels: tuple[int, int, int, int] = (64, 128, 256, 512)
    embed_dim: int = 512
    in_channels: int = 1
    groups: int = 32
    fourier_scale: float = 30.0

    def __post_init__(self) -> None:
        if len(self.channels) != 4:
            raise ValueError(f"the UNet has 4 levels, got channels {self.channels}")
        if self.embed_dim % 2:
            raise ValueError(f"embed_dim must be even (sin and cos), got {self.embed_dim}")


WIDTHS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)  # the 13 convs


@dataclass(frozen=True)
class VGGConfig:
    """width: multiplies every conv's channel count (1.0 is the paper's VGG-16)."""

    width: float = 1.0
    num_classes: int = 10
    in_channels: int = 3

    @property
    def channels(self) -> tuple[int, ...]:
        return tuple(max(1, round(c * self.width)) for c in WIDTHS)
