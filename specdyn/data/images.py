"""Image classification splits: CIFAR-10, its Fashion-MNIST stand-in, synthetic images,
and random labels (paper Appendix A.1 and A.7).

Images stay uint8 (N, 3, 32, 32) until a batch is used; labels are int64 (N,). The
validation split is a fixed fraction of the training set, split by ``split_seed`` as
``torch.utils.data.random_split`` would (42, as the authors did); subsets keep the first
``train_size`` / ``eval_size`` examples. Random labels permute the training labels once,
with ``label_seed``, before the split (so the validation labels are random too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from specdyn.config import seeding
from specdyn.data.cache import dataset_root
from specdyn.data.cifar import load_cifar10
from specdyn.data.configs import CifarData, RandomLabelData
from specdyn.data.errors import DataError
from specdyn.data.standins import fashion_as_cifar, load_fashion_mnist
from specdyn.errors import ConfigError

SOURCES = ("real", "standin", "synthetic")
LABELS = ("true", "random")
SYNTHETIC_SIZES = {"train": 640, "test": 128}  # images per split of the "synthetic" source
Split = tuple[Tensor, Tensor]  # uint8 images (N, 3, 32, 32), int64 labels (N,)


@dataclass(frozen=True)
class CifarSplits:
    """Training split, evaluated splits (name -> Split) and per-channel statistics (3,)."""

    train: Split
    evaluated: dict[str, Split]
    mean: Tensor
    std: Tensor
    description: str


def load_images(data: CifarData) -> tuple[dict[str, Split], str]:
    """``{"train": Split, "test": Split}`` of ``data.source``, and its name in words."""
    if data.source not in SOURCES:
        raise ConfigError(f"unknown data source {data.source!r}; known: {', '.join(SOURCES)}")
    if data.source == "synthetic":
        return _synthetic(), "synthetic random images (32x32x3)"
    if data.source == "real":
        arrays, name = _real_cifar(data.data_dir), "CIFAR-10"
    else:
        raw = load_fashion_mnist()
        arrays = {k: (fashion_as_cifar(x), y) for k, (x, y) in raw.items()}
        name = "Fashion-MNIST stand-in for CIFAR-10 (padded to 32x32x3)"
    splits = {k: (torch.from_numpy(x), torch.from_numpy(y).long()) for k, (x, y) in arrays.items()}
    return splits, name


def _real_cifar(data_dir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """CIFAR-10 from ``data_dir``, or from the cache folder (downloaded when possible)."""
    root = dataset_root("cifar10", data_dir, _has_cifar)
    try:
        return load_cifar10(root)
    except DataError as e:
        raise DataError(f"CIFAR-10: {e}; check --data-dir") from e


def _has_cifar(root: Path) -> bool:
    return any((root / d).is_dir() for d in ("cifar-10-batches-bin", "cifar-10-batches-py"))


def _synthetic() -> dict[str, Split]:
    """Random images whose class shifts a fixed random template: learnable, and offline."""
    g = seeding.fixed_generator()
    templates = torch.randint(0, 256, (10, 3, 32, 32), generator=g).float()
    out = {}
    for split, n in SYNTHETIC_SIZES.items():
        y = torch.randint(0, 10, (n,), generator=g)
        noise = torch.randint(0, 256, (n, 3, 32, 32), generator=g).float()
        out[split] = ((templates[y] + noise) / 2).to(torch.uint8), y
    return out


def split_train_val(x: Tensor, y: Tensor, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """A fixed random (1 - val_fraction, val_fraction) split, as ``random_split`` with a
    generator seeded by ``seed``: the first N - round(N val_fraction) of a permutation train."""
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    n_val = round(len(x) * val_fraction)
    order = seeding.permutation(len(x), seed)
    train, val = order[: len(x) - n_val], order[len(x) - n_val :]
    return (x[train], y[train]), (x[val], y[val])


def permute_labels(y: Tensor, seed: int) -> Tensor:
    """(N,) labels shuffled across examples by one seeded permutation: every example gets a
    random label and the class counts are unchanged."""
    return y[seeding.permutation(len(y), seed)]


def relabelling(data: RandomLabelData) -> Callable[[Tensor], Tensor] | None:
    """The relabelling of ``data.labels``: None for true labels."""
    if data.labels not in LABELS:
        raise ConfigError(f"unknown labels {data.labels!r}; known: {', '.join(LABELS)}")
    if data.labels == "true":
        return None
    return lambda y: permute_labels(y, data.label_seed)


def cifar_splits(data: CifarData, relabel: Callable[[Tensor], Tensor] | None = None) -> CifarSplits:
    """Load, (optionally relabel the whole training set,) split, subsample, and take the
    per-channel mean and std of the training images that are used."""
    images, name = load_images(data)
    x, y = images["train"]
    if relabel is not None:
        y = relabel(y)
    train, val = split_train_val(x, y, data.val_fraction, data.split_seed)
    train = _first(train, data.train_size)
    evaluated = {"train": train, "val": val}
    if data.source == "real":
        evaluated["test"] = images["test"]
    evaluated = {k: _first(s, data.eval_size) for k, s in evaluated.items()}
    mean, std = channel_stats(train[0])
    sizes = ", ".join(f"{len(s[0]):,} {k}" for k, s in evaluated.items() if k != "train")
    description = f"{name}, {len(train[0]):,} train / {sizes}"
    return CifarSplits(train, evaluated, mean, std, description)


def _first(split: Split, n: int) -> Split:
    if n < 0:
        raise ConfigError(f"train_size and eval_size must be >= 0, got {n}")
    return split if n == 0 else (split[0][:n], split[1][:n])


def channel_stats(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel mean and std (3,) of uint8 images (N, 3, H, W), on the 0-1 scale."""
    mean = torch.stack([x[:, c].double().mean() for c in range(x.shape[1])]) / 255
    std = torch.stack([x[:, c].double().std() for c in range(x.shape[1])]) / 255
    return mean.float(), std.float().clamp_min(1e-6)
