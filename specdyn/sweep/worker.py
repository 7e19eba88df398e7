"""Run one point in whatever process a backend gives it, and say how it ended.

``run_point`` never raises for a failing run: a bad value, a diverged loss or a missing data
set becomes ``Outcome("failed", message)`` so that the other points go on. Only a dead
process (killed, out of memory) is reported by the backend itself.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from specdyn.config.device import resolve_device
from specdyn.config.schema import RunConfig
from specdyn.errors import SpecdynError
from specdyn.store import layout

DONE, FAILED, RUNNING, PENDING = "done", "failed", "running", "pending"

# trains (cfg, run folder, device, progress=...) and returns the folder; None: a plain run.
# A module-level function, so that it pickles by name into a worker process or a Ray task.
Trainer = Callable[..., Path]


@dataclass(frozen=True)
class Outcome:
    """How a point ended: state "done" or "failed", the error on one line, wall seconds and
    CPU seconds of the process (all its threads): on shared cores the two differ."""

    state: str
    error: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def is_finished(run_dir: Path) -> bool:
    """A run whose training ended: its agreement (written after the last step) exists."""
    return (run_dir / layout.CONFIG).is_file() and (run_dir / layout.AGREEMENT).is_file()


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Torch threads for each of ``workers`` concurrent points: the cores shared out."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, workers))


def run_point(
    cfg: RunConfig,
    run_dir: Path,
    threads: int,
    device: str = "auto",
    trainer: Trainer | None = None,
) -> Outcome:
    """Train ``cfg`` into ``run_dir`` (resuming it) with ``threads`` torch threads, through
    ``trainer`` when given (e.g. a branch of another run) instead of a plain run."""
    from specdyn.train.loop import train  # here, so that importing a backend stays cheap

    start, cpu = time.perf_counter(), time.process_time()

    def outcome(state: str, error: str = "") -> Outcome:
        return Outcome(state, error, time.perf_counter() - start, time.process_time() - cpu)

    torch.set_num_threads(threads)
    try:
        (trainer or train)(cfg, Path(run_dir), resolve_device(device), progress=False)
    except SpecdynError as err:
        return outcome(FAILED, f"{type(err).__name__}: {err}")
    except Exception as err:  # anything else a task may raise: keep the last frame
        where = traceback.extract_tb(err.__traceback__)[-1]
        message = f"{type(err).__name__}: {err} ({Path(where.filename).name}:{where.lineno})"
        return outcome(FAILED, message.replace("\n", " "))
    return outcome(DONE)
