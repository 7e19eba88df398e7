"""Image generation: a DDPM score UNet on MNIST (paper Section 4, Appendix A.2).

Wang & Vastola's residual UNet (``specdyn.models.unet``) predicts the noise epsilon of
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps; the loss is the MSE against eps (Ho et al.
2020), T = 1000, the authors' sigmoid betas in [1e-5, 5e-3]; AdamW lr 3e-4, weight decay 0,
batch 128, 100 epochs, no EMA.

Pixels are scaled to [0, 1], as in Wang & Vastola's tutorial: with these betas abar_T is
only 0.08, so x_T keeps 0.29 x_0; a black (0) background then matches the sampler's
N(0, I) start, where [-1, 1] would leave it a grey offset. Samples are clamped to [0, 1].

There is no classification error here: "error" and "loss" are both the diffusion MSE of
a split, evaluated with noise and timesteps drawn once (seeded), so every evaluation of the
same weights gives the same number and runs with different seeds see the same noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from specdyn.config.schema import OptimConfig, RecordConfig, RunConfig, TrainConfig
from specdyn.data import DataError, dataset_root, load_fashion_mnist, load_mnist
from specdyn.errors import ConfigError
from specdyn.models import unet
from specdyn.models.unet import UNet, UNetConfig
from specdyn.tasks.base import Experiment, Task
from specdyn.tasks.batches import batch_indices, steps_per_epoch

MNIST_TRAIN = 60_000
DATA_SEED = 0  # the subsets: the same images for every run seed
# Generator seeds of the diffusion noise, apart from each other and from batch_indices'
# (seed * 1_000_003 + epoch): training (1 << 60) + seed * 1_000_000_007 + step; evaluation
# (1 << 61) + split index, the same for every run seed.
_TRAIN_NOISE, _EVAL_NOISE, _PER_SEED = 1 << 60, 1 << 61, 1_000_000_007
SOURCES = ("real", "standin", "synthetic")


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


@dataclass(frozen=True)
class EvalSet:
    """Fixed diffusion targets: images x0 (N, 1, H, W), steps t (N,), noise (N, 1, H, W)."""

    x0: Tensor
    t: Tensor
    noise: Tensor


def mnist_root(data_dir: str) -> Path:
    """``data_dir``, or ~/.cache/specdyn/mnist filled by a verified download."""
    cache = Path.home() / ".cache" / "specdyn" / "mnist"
    return dataset_root("mnist", data_dir, cache, unpack=False)


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
        g = torch.Generator().manual_seed(DATA_SEED)
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
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(DATA_SEED))
    return images[order[:n]]


def eval_set(x0: Tensor, timesteps: int, stream: int) -> EvalSet:
    """Uniform steps and Gaussian noise for ``x0``, drawn once from a fixed generator."""
    g = torch.Generator().manual_seed(_EVAL_NOISE + stream)
    t = torch.randint(0, timesteps, (len(x0),), generator=g)
    return EvalSet(x0, t, torch.randn(x0.shape, generator=g))


def noise_for_step(
    n: int, shape: tuple[int, ...], timesteps: int, seed: int, step: int
) -> tuple[Tensor, Tensor]:
    """Steps (n,) and noise (n, *shape) of training step ``step``: a pure function of both."""
    g = torch.Generator().manual_seed(_TRAIN_NOISE + seed * _PER_SEED + step)
    t = torch.randint(0, timesteps, (n,), generator=g)
    return t, torch.randn((n, *shape), generator=g)


@torch.no_grad()
def diffusion_mse(model: nn.Module, data: EvalSet, alphas_bar: Tensor, batch: int = 1000) -> float:
    """Mean epsilon MSE over ``data`` (every pixel weighs the same), in batches."""
    device = alphas_bar.device
    total = 0.0
    for i in range(0, len(data.x0), batch):
        part = [v[i : i + batch].to(device) for v in (data.x0, data.t, data.noise)]
        total += unet.ddpm_loss(model, *part, alphas_bar).item() * len(part[0])
    return total / len(data.x0)


def describe_data(name: str, n_train: int, n_val: int) -> str:
    """The run's ``data_source``: which images, how many, how scaled."""
    return f"{name}, {n_train:,} train / {n_val:,} val images, pixels in [0, 1]"


def build(cfg: RunConfig, device: torch.device) -> Experiment:
    torch.manual_seed(cfg.seed)
    d = cfg.data
    model = UNet(cfg.model).to(device)
    images, name = load_images(d)
    images = {"train": subset(images["train"], d.train_size), "val": images["val"]}
    evals = {
        split: eval_set(subset(x, d.eval_size), d.timesteps, stream)
        for stream, (split, x) in enumerate(images.items())
    }
    train_x = images["train"].to(device)
    betas = unet.sigmoid_betas(d.timesteps, d.beta_low, d.beta_high).to(device)
    alphas_bar = torch.cumprod(1 - betas, 0)

    def loss(model: nn.Module, step: int) -> Tensor:
        order = cfg.order_seed
        idx = batch_indices(len(train_x), d.batch_size, step, order)
        t, noise = noise_for_step(d.batch_size, train_x.shape[1:], d.timesteps, order, step)
        x0 = train_x[idx.to(device)]
        return unet.ddpm_loss(model, x0, t.to(device), noise.to(device), alphas_bar)

    def evaluate(model: nn.Module) -> dict[str, dict[str, float]]:
        out = {}
        for split, data in evals.items():
            mse = diffusion_mse(model, data, alphas_bar)
            out[split] = {"loss": mse, "error": mse}
        return out

    def artifacts(model: nn.Module) -> dict[str, Tensor]:
        g = torch.Generator(device=device).manual_seed(cfg.seed)
        x = unet.sample(model, (d.n_samples, *train_x.shape[1:]), betas, g)
        return {"samples": x.clamp(0.0, 1.0).cpu()}  # (N, 1, 28, 28)

    return Experiment(
        model,
        loss,
        evaluate,
        unet.alignment_pairs(cfg.model),
        describe_data(name, len(train_x), len(evals["val"].x0)),
        figure_matrix=unet.FIGURE_MATRIX,  # the 3rd convolution
        figure_pair=unet.FIGURE_PAIR,  # 3rd -> 4th convolution, at the 4th's centre
        error_label="diffusion MSE",
        artifacts=artifacts if d.n_samples > 0 else None,
    )


def _preset(
    name: str, data: DiffusionData, model: UNetConfig, epochs: int, every: int, **changes
) -> RunConfig:
    """AdamW lr 3e-4, weight decay 0, constant lr (Appendix A.2) for ``epochs`` epochs of
    ``data``; recorded every ``every`` steps, evaluated every ``eval_every`` (default the same).
    """
    per_epoch = steps_per_epoch(data.train_size or MNIST_TRAIN, data.batch_size)
    eval_every = changes.pop("eval_every", every)
    top_k = changes.pop("top_k", 100)
    optim = OptimConfig(**({"name": "adamw", "lr": 3e-4, "weight_decay": 0.0} | changes))
    train = TrainConfig(epochs * per_epoch, eval_every=eval_every, state_every=10 * eval_every)
    return RunConfig(
        "unet-mnist", name, model, data, optim, train, RecordConfig(every, top_k=top_k)
    )


PRESETS = {
    # Appendix A.2: all 60,000 MNIST images, 100 epochs of 468 steps (46,800), recorded and
    # evaluated once an epoch, on the 10,000 test images and 10,000 fixed training images.
    "paper": _preset(
        "paper",
        DiffusionData(source="real", eval_size=10_000, n_samples=64),
        UNetConfig(),
        epochs=100,
        every=steps_per_epoch(MNIST_TRAIN, 128),
    ),
    # cpu: the same code shrunk for 2 CPU cores. Widths and embedding a quarter of the
    # paper's, with 8 GroupNorm groups so every group holds as many channels as the paper's
    # 32 do (at 32 groups, 16- and 32-channel layers get one channel per group and the
    # GroupNorm erases their time embedding: dense2, dense6, dense7 never learn). 8,000
    # Fashion-MNIST images for 32 epochs (1,984 steps); lr 2e-3 instead of 3e-4, so that
    # 4% of the paper's steps move the weights far enough for effective ranks to fall.
    "cpu": _preset(
        "cpu",
        DiffusionData(source="standin", train_size=8_000, eval_size=512),
        UNetConfig(channels=(16, 32, 64, 128), embed_dim=128, groups=8),
        epochs=32,
        every=25,
        eval_every=50,
        lr=2e-3,
    ),
    # tiny: seconds, synthetic images and a 20-step noise schedule, for tests.
    "tiny": _preset(
        "tiny",
        DiffusionData(
            source="synthetic",
            train_size=64,
            eval_size=32,
            batch_size=16,
            timesteps=20,
            n_samples=4,
        ),
        UNetConfig(channels=(4, 8, 8, 16), embed_dim=16, groups=2),
        epochs=2,
        every=2,
        top_k=8,
    ),
}

TASK = Task(
    name="unet-mnist",
    description="DDPM score UNet on MNIST (Section 4, Appendix A.2)",
    presets=PRESETS,
    default_preset="cpu",
    build=build,
)
