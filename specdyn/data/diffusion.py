"""Images for diffusion: MNIST, its Fashion-MNIST stand-in or synthetic images, with the
fixed evaluation noise and the per-step training noise (paper Appendix A.2).

Pixels are float32 in [0, 1], (N, 1, 28, 28). Subsets and synthetic images are the same for
every run seed; evaluation noise and timesteps are drawn once per split from fixed
generators; each training step's timesteps and noise are a pure function of (order seed,
step) (see :mod:`specdyn.config.seeding`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from specdyn.config import seeding
from specdyn.data.cache import dataset_root
from specdyn.data.configs import DiffusionData
from specdyn.data.errors import DataError
from specdyn.data.idx import load_mnist
from specdyn.data.standins import load_fashion_mnist
from specdyn.errors import ConfigError

SOURCES = ("real", "standin", "synthetic")


@dataclass(frozen=True)
class EvalSet:
    """Fixed diffusion targets: images x0 (N, 1, H, W), steps t (N,), noise (N, 1, H, W)."""

    x0: Tensor
    t: Tensor
    noise: Tensor


def mnist_root(data_dir: str) -> Path:
    """``data_dir``, or the cache's ``mnist`` folder filled by a verified download."""
    return dataset_root("mnist", data_dir, unpack=False)


def load_mnist_from(data_dir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``load_mnist`` of ``data_dir`` (or of the cache), with a hint when files are missing."""
    root = mnist_root(data_dir)
    try:
        return load_mnist(root)
    except DataError as err:
        raise DataError(f"{err} (--data-dir must name a folder of MNIST's IDX files)") from err


def load_images(cfg: DiffusionData) -> tuple[dict[str, Tensor], str]:
    """{"train": (N, 1, 28, 28), "val": (M, 1, 28, 28)} float in [0, 1], and their name."""
    if cfg.source == "synthetic":
        g = seeding.fixed_generator()
        n_train, n_val = cfg.train_size or 256, cfg.eval_size or 64
        images = {
            s: torch.rand(n, 1, 28, 28, generator=g)
            for s, n in (("train", n_train), ("val", n_val))
        }
        return images, "synthetic uniform-noise 28x28 images (generated)"
    if cfg.source == "real":
        splits, name = load_mnist_from(cfg.data_dir), "MNIST (val: its test split)"
    elif cfg.source == "standin":
        splits = load_fashion_mnist()
        name = "Fashion-MNIST stand-in for MNIST (val: its test split)"
    else:
        raise ConfigError(f"unknown data source '{cfg.source}'; known: {', '.join(SOURCES)}")
    # the test split is the held-out one: it is never trained on
    images = {"train": _to_unit(splits["train"][0]), "val": _to_unit(splits["test"][0])}
    return images, name


def _to_unit(images: np.ndarray) -> Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1]."""
    return torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]


def subset(images: Tensor, n: int) -> Tensor:
    """``n`` images (all when n is 0) chosen by a fixed permutation."""
    if n == 0 or n >= len(images):
        return images
    return images[seeding.fixed_permutation(len(images))[:n]]


def eval_set(x0: Tensor, timesteps: int, stream: int) -> EvalSet:
    """Uniform steps and Gaussian noise for ``x0``, drawn once from a fixed generator."""
    g = seeding.eval_noise_generator(stream)
    t = torch.randint(0, timesteps, (len(x0),), generator=g)
    return EvalSet(x0, t, torch.randn(x0.shape, generator=g))


def noise_for_step(
    n: int, shape: tuple[int, ...], timesteps: int, order_seed: int, step: int
) -> tuple[Tensor, Tensor]:
    """Steps (n,) and noise (n, *shape) of training step ``step``: a pure function of both."""
    g = seeding.train_noise_generator(order_seed, step)
    t = torch.randint(0, timesteps, (n,), generator=g)
    return t, torch.randn((n, *shape), generator=g)


def describe_data(name: str, n_train: int, n_val: int) -> str:
    """The run's ``data_source``: which images, how many, how scaled."""
    return f"{name}, {n_train:,} train / {n_val:,} val images, pixels in [0, 1]"
