"""``run_points``: run a list of (config, run folder) points on a backend.

This is the one entry point sweeps, ``specdyn reproduce`` and branch experiments share::

    from specdyn.sweep import run_points
    outcomes = run_points([(cfg_a, Path("out/a")), (cfg_b, Path("out/b"))],
                          backend="local", workers=2)
    [o.state for o in outcomes]          # "done" or "failed", in the order given

Each point is trained with ``specdyn.train.loop.train`` into its folder, resuming whatever
the folder holds. A failing point never stops the others; its Outcome carries the error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from specdyn.config.device import resolve_device
from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError
from specdyn.sweep.local import Update, run_local
from specdyn.sweep.ray_backend import check_ray, run_ray
from specdyn.sweep.spec import BACKENDS
from specdyn.sweep.worker import Outcome, Trainer, threads_per_worker


def check_backend(backend: str, address: str | None) -> None:
    """ConfigError for an unknown backend, Ray missing, or an unreachable address."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}'; known: {', '.join(BACKENDS)}")
    if backend == "ray":
        check_ray(address)
    elif address is not None:
        raise ConfigError("--address is for --backend ray")


def run_points(
    points: Sequence[tuple[RunConfig, Path]],
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    device: str = "auto",
    on_update: Update | None = None,
    threads: int | None = None,
    trainer: Trainer | None = None,
) -> list[Outcome]:
    """Train every ``(cfg, run_dir)``; the outcomes come back in the order given.

    workers: points at once (local default 1; Ray default all, as the cluster allows). Each
    point gets ``threads`` torch threads (default ``cores // workers``, so that workers do
    not oversubscribe the cores; on a Ray cluster 1 unless given).
    on_update(index, "running" | Outcome) is called as points start and end. trainer: a
    module-level function training one point (default: a plain run; branch experiments
    pass ``specdyn.analyses.branching.train_point``).
    """
    check_backend(backend, address)
    points = [(cfg, Path(run_dir)) for cfg, run_dir in points]
    notify = on_update or (lambda index, event: None)
    if not points:
        return []
    if backend == "ray":
        if threads is None:
            threads = threads_per_worker(workers) if workers and address is None else 1
        return run_ray(points, workers, threads, device, address, notify, trainer)
    workers = workers or 1
    threads = threads or threads_per_worker(workers)
    return run_local(points, workers, threads, device, notify, trainer)


@dataclass(frozen=True)
class Execution:
    """Where and how a command's points run: the options of ``add_backend_arguments``."""

    backend: str = "local"
    workers: int | None = None
    address: str | None = None
    device: str = "auto"
    threads: int | None = None
    progress: bool = True

    def check(self) -> None:
        check_backend(self.backend, self.address)
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {self.threads}")

    def torch_device(self) -> torch.device:
        """The device of work done in this process (evaluating pairs, pruning)."""
        return resolve_device(self.device)

    def run(
        self,
        points: Sequence[tuple[RunConfig, Path]],
        on_update: Update | None = None,
        trainer: Trainer | None = None,
    ) -> list[Outcome]:
        """``run_points`` with these options."""
        return run_points(
            points, self.backend, self.workers, self.address, self.device, on_update,
            self.threads, trainer,
        )  # fmt: skip
