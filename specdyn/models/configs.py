"""Every model's frozen config (the paper's values as defaults), with no torch import: the
presets, ``specdyn tasks`` and config validation read these without loading a network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from specdyn.config.rules import ANY, SIZE, Items, Range


@dataclass(frozen=True)
class GrokkingModel:
    """Width of the residual stream, heads, MLP width, and whether LayerNorms are used."""

    d_model: Annotated[int, SIZE] = 128
    n_heads: Annotated[int, SIZE] = 4
    d_mlp: Annotated[int, SIZE] = 512
    layer_norm: Annotated[bool, ANY] = False


@dataclass(frozen=True)
class LSTMConfig:
    n_mels: Annotated[int, SIZE] = 40
    hidden: Annotated[int, SIZE] = 256
    n_layers: Annotated[int, SIZE] = 4
    vocab_size: Annotated[int, Range(2)] = 30  # specdyn.data.VOCAB_SIZE


@dataclass(frozen=True)
class MLPConfig:
    """widths: input, hidden..., output sizes; len(widths) - 1 Linear layers."""

    widths: Annotated[tuple[int, ...], Items(SIZE, 2)] = (3072, 256, 256, 256, 10)

    def __post_init__(self) -> None:
        if len(self.widths) < 2:
            raise ValueError(f"an MLP needs at least two widths, got {self.widths}")


@dataclass(frozen=True)
class TransformerLMConfig:
    vocab_size: Annotated[int, Range(2)] = 50304
    context: Annotated[int, SIZE] = 2048
    n_layers: Annotated[int, SIZE] = 12
    d_model: Annotated[int, SIZE] = 768
    n_heads: Annotated[int, SIZE] = 12
    d_mlp: Annotated[int, SIZE] = 768
    final_norm: Annotated[bool, ANY] = False

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by {self.n_heads} heads")


@dataclass(frozen=True)
class UNetConfig:
    """channels: the four levels' widths. groups: GroupNorm groups (gcd with the width; the
    first level uses 4, as the authors did). fourier_scale: std of the time frequencies."""

    channels: Annotated[tuple[int, int, int, int], Items(SIZE, 4, 4)] = (64, 128, 256, 512)
    embed_dim: Annotated[int, Range(2, multiple_of=2)] = 512  # sin and cos halves
    in_channels: Annotated[int, SIZE] = 1
    groups: Annotated[int, SIZE] = 32
    fourier_scale: Annotated[float, Range(0, open_low=True)] = 30.0

    def __post_init__(self) -> None:
        if len(self.channels) != 4:
            raise ValueError(f"the UNet has 4 levels, got channels {self.channels}")
        if self.embed_dim % 2:
            raise ValueError(f"embed_dim must be even (sin and cos), got {self.embed_dim}")


WIDTHS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)  # the 13 convs


@dataclass(frozen=True)
class VGGConfig:
    """width: multiplies every conv's channel count (1.0 is the paper's VGG-16)."""

    width: Annotated[float, Range(0, open_low=True)] = 1.0
    num_classes: Annotated[int, Range(2)] = 10
    in_channels: Annotated[int, SIZE] = 3

    @property
    def channels(self) -> tuple[int, ...]:
        return tuple(max(1, round(c * self.width)) for c in WIDTHS)
