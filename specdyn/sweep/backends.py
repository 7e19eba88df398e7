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
from pathlib import Path

from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError
from specdyn.sweep.local import Update, run_local
from specdyn.sweep.ray_backend import check_ray, run_ray
from specdyn.sweep.spec import BACKENDS
from specdyn.sweep.worker import Outcome, threads_per_worker


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
) -> list[Outcome]:
    """Train every ``(cfg, run_dir)``; the outcomes come back in the order given.

    workers: points at once (local default 1; Ray default all, as the cluster allows). Each
    point gets ``threads`` torch threads (default ``cores // workers``, so that workers do
    not oversubscribe the cores; on a Ray cluster 1 unless given).
    on_update(index, "running" | Outcome) is called as points start and end.
    """
    check_backend(backend, address)
    points = [(cfg, Path(run_dir)) for cfg, run_dir in points]
    notify = on_update or (lambda index, event: None)
    if not points:
        return []
    if backend == "ray":
        if threads is None:
            threads = threads_per_worker(workers) if workers and address is None else 1
        return run_ray(points, workers, threads, device, address, notify)
    workers = workers or 1
    return run_local(points, workers, threads or threads_per_worker(workers), device, notify)
