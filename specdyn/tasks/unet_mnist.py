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
The data lives in :mod:`specdyn.data.diffusion`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from specdyn.config.schema import OptimConfig, RecordConfig, RunConfig, TrainConfig
from specdyn.data.configs import MNIST_TRAIN, DiffusionData, steps_per_epoch
from specdyn.models.configs import UNetConfig
from specdyn.tasks.base import Evaluation, Experiment, FigureChoices, Task, rescheduled

if TYPE_CHECKING:  # torch is imported where a run starts: the presets need none
    import torch
    from torch import Tensor, nn

    from specdyn.data.diffusion import EvalSet

Config = RunConfig[UNetConfig, DiffusionData]


def diffusion_mse(model: nn.Module, data: EvalSet, alphas_bar: Tensor, batch: int = 1000) -> float:
    """Mean epsilon MSE over ``data`` (every pixel weighs the same), in batches."""
    import torch

    from specdyn.models import unet

    device = alphas_bar.device
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(data.x0), batch):
            x0, t, noise = (v[i : i + batch].to(device) for v in (data.x0, data.t, data.noise))
            total += unet.ddpm_loss(model, x0, t, noise, alphas_bar).item() * len(x0)
    return total / len(data.x0)


def build(cfg: Config, device: torch.device) -> Experiment:
    import torch

    from specdyn.config import seeding
    from specdyn.data.batches import batch_indices
    from specdyn.data.diffusion import describe_data, eval_set, load_images, noise_for_step, subset
    from specdyn.models import unet
    from specdyn.models.unet import UNet

    seeding.seed_initialisation(cfg.seed)
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

    def evaluate(model: nn.Module) -> Evaluation:
        out = {}
        for split, data in evals.items():
            mse = diffusion_mse(model, data, alphas_bar)
            out[split] = {"loss": mse, "error": mse}
        return out

    def artifacts(model: nn.Module) -> dict[str, Tensor]:
        g = seeding.sample_generator(cfg.seed, device)
        x = unet.sample(model, (d.n_samples, *train_x.shape[1:]), betas, g)
        return {"samples": x.clamp(0.0, 1.0).cpu()}  # (N, 1, 28, 28)

    return Experiment(
        model,
        loss,
        evaluate,
        unet.alignment_pairs(cfg.model),
        describe_data(name, len(train_x), len(evals["val"].x0)),
        artifacts=artifacts if d.n_samples > 0 else None,
    )


def _preset(
    name: str, data: DiffusionData, model: UNetConfig, epochs: int, every: int, **changes: Any
) -> Config:
    """AdamW lr 3e-4, weight decay 0, constant lr (Appendix A.2) for ``epochs`` epochs of
    ``data``; recorded every ``every`` steps, evaluated every ``eval_every`` (default the same).
    """
    per_epoch = steps_per_epoch(data.train_size or MNIST_TRAIN, data.batch_size)
    eval_every = changes.pop("eval_every", every)
    top_k = changes.pop("top_k", 100)
    appendix: dict[str, Any] = {"name": "adamw", "lr": 3e-4, "weight_decay": 0.0}
    optim = OptimConfig(**(appendix | changes))
    train = TrainConfig(epochs * per_epoch, eval_every=eval_every, state_every=10 * eval_every)
    return RunConfig(
        "unet-mnist", name, model, data, optim, train, RecordConfig(every, top_k=top_k)
    )


PRESETS: dict[str, Config] = {
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
    # the 3rd convolution; 3rd -> 4th at the 4th's centre.
    figures=FigureChoices("conv3", "conv3->conv4", error_label="diffusion MSE"),
    data_facts=(("model.in_channels", None, 1),),  # 28x28x1
    paper_figures=("3", "5", "6", "7", "9", "14"),
    # 1,984 -> 600 steps
    cpu_scale=lambda cfg: rescheduled(cfg, 600, every=50, eval_every=100, state_every=100),
)
