"""The ``--device`` names every command takes: checked without torch, resolved with it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from specdyn.errors import ConfigError

if TYPE_CHECKING:
    import torch


def check_device_name(name: str) -> None:
    """ConfigError unless ``name`` reads as auto, cpu, cuda or cuda:N (no torch needed)."""
    if re.fullmatch(r"auto|cpu|cuda(:\d+)?", name) is None:
        raise ConfigError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N")


def resolve_device(name: str) -> torch.device:
    """auto (CUDA when present), cpu, cuda or cuda:N; ConfigError for anything else."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = torch.device("meta")  # refused just below
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' asked for, but CUDA is not available here")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise ConfigError(f"device '{name}' asked for, but there are {count} CUDA devices")
    return device
