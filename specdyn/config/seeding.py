"""The seeding policy of every task, in one place.

What ``--seed`` (``RunConfig.seed``) changes:
  - the initialisation: ``seed_initialisation(seed)`` right before a task builds its model;
  - the training data a run sees, in its order, unless ``data_seed`` is set
    (``RunConfig.order_seed``): minibatches (``batch_generator``), the diffusion timesteps
    and noise of each step (``train_noise_generator``), and grokking's train/validation
    split (full batch: the split is the data it sees);
  - the images the diffusion model samples at the end (``sample_generator``).

What stays fixed for every seed (so that runs with different seeds see the same data):
  - data subsets (``train_size``, ``eval_size``, evaluated utterances and contexts, the
    stand-in's sentences) and synthetic data: ``fixed_generator(stream)``;
  - the CIFAR validation split: ``data.split_seed`` (42, as the authors did);
  - the random-label permutation: ``data.label_seed`` (0);
  - the diffusion evaluation's timesteps and noise: ``eval_noise_generator(stream)``.

The named keys that change them: ``data_seed`` (the data seen, in order; None follows
``seed``), ``split_seed`` (CIFAR's validation split) and ``label_seed`` (the random
labels). So "same initialisation, different data order" is ``--set data_seed=N``, and
"different initialisation, same data order" is ``--seed N --set data_seed=M`` with M the
first run's seed.

Every random draw of the data goes through a ``torch.Generator`` of its own; only the
initialisation reads torch's global generator. Batches use ``seed * 1_000_003 + epoch``,
training noise ``2**60 + seed * 1_000_000_007 + step``, evaluation noise ``2**61 +
stream``, fixed data ``stream`` (0, 1). A CPU generator keeps only the low 32 bits of its
seed, so the offsets ``2**60`` and ``2**61`` vanish and these streams overlap: with order
seed 0, epoch e's batch order, step e's diffusion noise and fixed stream e (e = 0, 1;
evaluation noise stream e too) come from the same generator seed. The overlap is kept,
because moving any stream would change the results of every existing run; it couples one
or two steps' noise with the evaluation noise, nothing more.
"""

from __future__ import annotations

import torch
from torch import Tensor

FIXED_SEED = 0  # data subsets and synthetic data: the same for every run seed
_PER_EPOCH = 1_000_003
_TRAIN_NOISE, _EVAL_NOISE, _PER_SEED = 1 << 60, 1 << 61, 1_000_000_007


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh generator seeded with ``seed``."""
    return torch.Generator(device=device).manual_seed(seed)


def seed_initialisation(seed: int) -> None:
    """Seed torch's global generator, from which a model's initial weights are drawn."""
    torch.manual_seed(seed)


def fixed_generator(stream: int = 0) -> torch.Generator:
    """The generator of fixed data (subsets, synthetic data): independent of the run seed;
    ``stream`` separates independent draws (e.g. a training and a validation set)."""
    return generator(FIXED_SEED + stream)


def permutation(n: int, seed: int) -> Tensor:
    """A permutation of ``range(n)`` (int64 (n,)) drawn from a generator seeded ``seed``."""
    return torch.randperm(n, generator=generator(seed))


def fixed_permutation(n: int) -> Tensor:
    """``permutation(n, FIXED_SEED)``: the order from which fixed subsets are taken."""
    return permutation(n, FIXED_SEED)


def batch_generator(order_seed: int, epoch: int) -> torch.Generator:
    """The generator of the minibatch order of ``epoch``."""
    return generator(order_seed * _PER_EPOCH + epoch)


def train_noise_generator(order_seed: int, step: int) -> torch.Generator:
    """The generator of training step ``step``'s diffusion timesteps and noise."""
    return generator(_TRAIN_NOISE + order_seed * _PER_SEED + step)


def eval_noise_generator(stream: int) -> torch.Generator:
    """The generator of evaluated split ``stream``'s diffusion timesteps and noise."""
    return generator(_EVAL_NOISE + stream)


def sample_generator(seed: int, device: torch.device) -> torch.Generator:
    """The generator of the samples drawn from a trained generative model."""
    return generator(seed, device)
