"""Every data set's frozen config, with no torch import: the presets, ``specdyn tasks`` and
config validation read these without loading a data set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from specdyn.config.rules import ANY, COUNT, FRACTION, SEED, SIZE, Items, OneOf, Range, Text

MNIST_TRAIN = 60_000  # MNIST's training images
SOURCE = OneOf(("real", "standin", "synthetic"))  # the data set, its stand-in, or noise


@dataclass(frozen=True)
class GrokkingData:
    """modulus p; train_fraction of the p^2 pairs trained on, the rest validated (split by
    the run's ``data_seed``, which follows ``seed`` unless set)."""

    modulus: Annotated[int, Range(2)] = 113
    train_fraction: Annotated[float, FRACTION] = 0.3


@dataclass(frozen=True)
class CifarData:
    """source: "real" (CIFAR-10 from data_dir), "standin" (Fashion-MNIST as 32x32x3) or
    "synthetic" (random images, for tests). val_fraction of the training set is held out,
    split by split_seed. train_size / eval_size: keep only that many training examples /
    evaluate at most that many of every split (0: all)."""

    source: Annotated[str, SOURCE] = "real"
    data_dir: Annotated[str, ANY] = ""
    batch_size: Annotated[int, SIZE] = 128
    val_fraction: Annotated[float, FRACTION] = 0.1
    split_seed: Annotated[int, SEED] = 42
    train_size: Annotated[int, COUNT] = 0
    eval_size: Annotated[int, COUNT] = 0


@dataclass(frozen=True)
class RandomLabelData(CifarData):
    """CifarData plus labels: "true", or "random" (training labels permuted once, with
    label_seed, before the train/validation split)."""

    labels: Annotated[str, OneOf(("true", "random"))] = "true"
    label_seed: Annotated[int, SEED] = 0


@dataclass(frozen=True)
class DiffusionData:
    """source: "real" (MNIST from data_dir or the cache), "standin" (Fashion-MNIST) or
    "synthetic" (uniform noise images, for tests). train_size: training images kept (0: all).
    eval_size: images of each split whose diffusion loss is evaluated (0: the whole split).
    timesteps, beta_low, beta_high: the noise schedule. n_samples: images generated at the end.
    """

    source: Annotated[str, SOURCE] = "real"
    data_dir: Annotated[str, ANY] = ""
    train_size: Annotated[int, COUNT] = 0
    eval_size: Annotated[int, COUNT] = 0
    batch_size: Annotated[int, SIZE] = 128
    timesteps: Annotated[int, SIZE] = 1000
    beta_low: Annotated[float, FRACTION] = 1e-5
    beta_high: Annotated[float, FRACTION] = 5e-3
    n_samples: Annotated[int, COUNT] = 16  # 0: no samples generated at the end


TRAIN_SIZE = 28_539  # train-clean-100


VOICES = ("en-us", "en-us+f3", "en-gb+m3", "en+f2", "en-gb-scotland+m5", "en-us+f4")


@dataclass(frozen=True)
class SpeechData:
    """source: "real", "standin" (espeak-ng speech) or "synthetic" (random, for tests).

    train_utterances: a fixed random subset of the training set (0: all). eval_utterances:
    utterances evaluated per split (0: the whole validation set, and as many training
    ones). The stand-in synthesises ``train_utterances`` / ``eval_utterances`` sentences
    of at most ``max_words`` words from State of the Union speeches (validation from other
    speeches) with ``voices`` x ``rates`` (words per minute). log: log-mel (the default, as
    Appendix A.3 states) or mel power (the authors' code). area_norm: mel filters of unit
    area.
    """

    source: Annotated[str, SOURCE] = "real"
    data_dir: Annotated[str, ANY] = ""
    batch_size: Annotated[int, SIZE] = 32
    train_utterances: Annotated[int, COUNT] = 0
    eval_utterances: Annotated[int, COUNT] = 0
    log: Annotated[bool, ANY] = True
    area_norm: Annotated[bool, ANY] = True
    voices: Annotated[tuple[str, ...], Items(Text(nonempty=True), 1)] = VOICES
    rates: Annotated[tuple[int, ...], Items(SIZE, 1)] = (130, 160, 190)
    max_words: Annotated[int, Range(3)] = 25  # sentences of 3 to max_words words


@dataclass(frozen=True)
class TextData:
    """source: "real" (WikiText-103 raw), "standin" (State of the Union) or "synthetic".

    batch_size: contexts per step; micro_batch: contexts per forward/backward pass (0: the
    whole batch). eval_chunks: contexts evaluated per split (0: all validation contexts,
    and as many training ones). train_speeches: the stand-in's first n training speeches
    (0: all); every 10th speech is validation. Mixed precision is ``train.bf16``.
    """

    source: Annotated[str, SOURCE] = "real"
    data_dir: Annotated[str, ANY] = ""
    batch_size: Annotated[int, SIZE] = 256
    micro_batch: Annotated[int, COUNT] = 0  # 0: the whole batch at once
    eval_chunks: Annotated[int, COUNT] = 0
    train_speeches: Annotated[int, COUNT] = 0


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Whole batches of ``batch_size`` in ``n`` examples (a partial last batch is dropped)."""
    if n < batch_size:
        raise ValueError(f"{n} training examples cannot fill one batch of {batch_size}")
    return n // batch_size
