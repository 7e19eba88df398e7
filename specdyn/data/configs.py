"""Every data set's frozen config, with no torch import: the presets, ``specdyn tasks`` and
config validation read these without loading a data set."""

from __future__ import annotations

from dataclasses import dataclass

MNIST_TRAIN = 60_000  # MNIST's training images


@dataclass(frozen=True)
class GrokkingData:
    """modulus p; train_fraction of the p^2 pairs trained on, the rest validated (split by
    the run's ``data_seed``, which follows ``seed`` unless set)."""

    modulus: int = 113
    train_fraction: float = 0.3


@dataclass(frozen=True)
class CifarData:
    """source: "real" (CIFAR-10 from data_dir), "standin" (Fashion-MNIST as 32x32x3) or
    "synthetic" (random images, for tests). val_fraction of the training set is held out,
    split by split_seed. train_size / eval_size: keep only that many training examples /
    evaluate at most that many of every split (0: all)."""

    source: str = "real"
    data_dir: str = ""
    batch_size: int = 128
    val_fraction: float = 0.1
    split_seed: int = 42
    train_size: int = 0
    eval_size: int = 0


@dataclass(frozen=True)
class RandomLabelData(CifarData):
    """CifarData plus labels: "true", or "random" (training labels permuted once, with
    label_seed, before the train/validation split)."""

    labels: str = "true"
    label_seed: int = 0


@dataclass(frozen=True)
class DiffusionData:
    """source: "real" (MNIST from data_dir or the cache), "standin" (Fashion-MNIST) or
    "synthetic" (uniform noise images, for tests). train_size: training images kept (0: all).
    eval_size: images of each split whose diffusion loss is evaluated (0: the whole split).
    timesteps, beta_low, beta_high: the noise schedule. n_samples: images generated at the end.
    """

    source: str = "real"
    data_dir: str = ""
    train_size: int = 0
    eval_size: int = 0
    batch_size: int = 128
    timesteps: int = 1000
    beta_low: float = 1e-5
    beta_high: float = 5e-3
    n_samples: int = 16


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

    source: str = "real"
    data_dir: str = ""
    batch_size: int = 32
    train_utterances: int = 0
    eval_utterances: int = 0
    log: bool = True
    area_norm: bool = True
    voices: tuple[str, ...] = VOICES
    rates: tuple[int, ...] = (130, 160, 190)
    max_words: int = 25


@dataclass(frozen=True)
class TextData:
    """source: "real" (WikiText-103 raw), "standin" (State of the Union) or "synthetic".

    batch_size: contexts per step; micro_batch: contexts per forward/backward pass (0: the
    whole batch). eval_chunks: contexts evaluated per split (0: all validation contexts,
    and as many training ones). train_speeches: the stand-in's first n training speeches
    (0: all); every 10th speech is validation. Mixed precision is ``train.bf16``.
    """

    source: str = "real"
    data_dir: str = ""
    batch_size: int = 256
    micro_batch: int = 0
    eval_chunks: int = 0
    train_speeches: int = 0


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Whole batches of ``batch_size`` in ``n`` examples (a partial last batch is dropped)."""
    if n < batch_size:
        raise ValueError(f"{n} training examples cannot fill one batch of {batch_size}")
    return n // batch_size
