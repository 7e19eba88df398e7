"""The resume state: model, optimizer, schedule and RNG, saved atomically, loaded safely."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from specdyn.errors import RunStoreError
from specdyn.store import layout
from specdyn.store.writer import RunWriter


def save_state(writer: RunWriter, step: int, model: nn.Module, optimizer, scheduler, done=False):
    writer.write_state(full_state(step, model, optimizer, scheduler, done))


def full_state(step: int, model: nn.Module, optimizer, scheduler, done: bool = False) -> dict:
    """Everything needed to continue training from ``step``: tensors and plain types."""
    state = {
        "step": step,
        "done": done,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return state


def load_state(run_path: Path) -> dict | None:
    """The saved state, or None for a fresh run. Never unpickles arbitrary objects."""
    path = run_path / layout.STATE
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated file, foreign pickle, ...: all mean "unusable"
        raise RunStoreError(f"resume state '{path}' is unreadable: {err}") from err


def restore(state: dict, model: nn.Module, optimizer, scheduler) -> None:
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
