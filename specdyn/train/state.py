"""The resume state: model, optimizer, schedule and RNG, saved atomically, loaded safely."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler as Scheduler

from specdyn.errors import RunStoreError
from specdyn.store import layout
from specdyn.store.reader import read_state
from specdyn.store.writer import RunWriter

FIELDS: dict[str, type] = {
    "step": int,
    "done": bool,
    "model": dict,
    "optimizer": dict,
    "scheduler": dict,
    "rng": torch.Tensor,
}


def save_state(
    writer: RunWriter,
    step: int,
    model: nn.Module,
    optimizer: Optimizer,
    scheduler: Scheduler,
    done: bool = False,
) -> None:
    writer.write_state(full_state(step, model, optimizer, scheduler, done))


def full_state(
    step: int, model: nn.Module, optimizer: Optimizer, scheduler: Scheduler, done: bool = False
) -> dict:
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
    """The saved state, or None for a fresh run. Never unpickles arbitrary objects; a state
    without the fields above is a one-line RunStoreError."""
    state = read_state(run_path)
    if state is None:
        return None
    path = run_path / layout.STATE
    missing = [key for key in FIELDS if key not in state]
    if missing:
        raise RunStoreError(f"resume state '{path}' lacks {', '.join(missing)}")
    wrong = [k for k, kind in FIELDS.items() if not isinstance(state[k], kind)]
    if wrong or state["step"] < 0:
        raise RunStoreError(f"resume state '{path}' holds a malformed {(wrong or ['step'])[0]}")
    return state


def restore(
    state: dict, model: nn.Module, optimizer: Optimizer, scheduler: Scheduler, path: Path
) -> None:
    """Load ``state`` into the run's objects; RunStoreError if it does not fit them."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise RunStoreError(f"resume state '{path}' does not fit this run: {reason}") from None
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
