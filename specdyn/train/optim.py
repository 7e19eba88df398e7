"""Optimizers and learning-rate schedules from an OptimConfig."""

from __future__ import annotations

import math

import torch
from torch import nn

from specdyn.config.schema import OptimConfig
from specdyn.errors import ConfigError


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.name == "adamw":
        return torch.optim.AdamW(
            params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay
        )
    if cfg.name == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    raise ConfigError(f"unknown optimizer '{cfg.name}'; known: adamw, sgd")


def lr_factor(cfg: OptimConfig, step: int, total: int) -> float:
    """Multiplier of the base lr at ``step``: linear warmup, then the schedule."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "cosine":
        span = max(total - cfg.warmup_steps, 1)
        progress = min((step - cfg.warmup_steps) / span, 1.0)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return cfg.final_lr_fraction + (1.0 - cfg.final_lr_fraction) * cosine
    if cfg.schedule == "step":
        return cfg.gamma ** sum(step >= m for m in cfg.milestones)
    raise ConfigError(f"unknown lr schedule '{cfg.schedule}'; known: constant, cosine, step")


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    lr_factor(cfg, 0, total_steps)  # fail now on an unknown schedule, not mid-run
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(cfg, step, total_steps)
    )
