"""The Ray backend: each point is a Ray core task that writes to the shared ``--out``.

``address=None`` starts a local Ray instance on 127.0.0.1 (no dashboard) for this sweep and
stops it afterwards; ``"auto"`` or ``"host:port"`` joins a running cluster (``ray start
--head`` on one node, ``ray start --address=HOST:6379`` on the others). On a cluster every
node must see the sweep folder at the same path: a shared filesystem.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError
from specdyn.sweep.local import Update
from specdyn.sweep.worker import FAILED, Outcome, Trainer, run_point

INSTALL = 'pip install -e ".[ray]"'


def check_ray(address: str | None) -> None:
    """ConfigError unless Ray is installed and ``address`` (if any) answers."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(f"--backend ray needs Ray, which is not installed: {INSTALL}")
    if address in (None, "local"):
        return
    if address == "auto":
        address = _running_cluster()
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as err:
        raise ConfigError(f"Ray cluster at '{address}' is unreachable: {err}") from None


def _running_cluster() -> str:
    """The address ``ray.init(address="auto")`` would join: $RAY_ADDRESS, else the one
    ``ray start`` left in /tmp/ray/ray_current_cluster."""
    found = os.environ.get("RAY_ADDRESS", "")
    record = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    if not found and record.is_file():
        found = record.read_text().strip()
    if not found:
        raise ConfigError(
            "--address auto: no running Ray cluster here (start one: ray start --head)"
        )
    return found


def _host_port(address: str) -> tuple[str, int]:
    bare = address.removeprefix("ray://")
    host, sep, port = bare.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--address expects auto or HOST:PORT, got '{address}'")
    return host or "127.0.0.1", int(port)


def connect(address: str | None, cpus: int | None = None) -> bool:
    """Initialise Ray unless it already is; True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    try:
        if address in (None, "local"):
            ray.init(
                num_cpus=cpus or os.cpu_count(),
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                log_to_driver=False,
                configure_logging=False,
            )
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except Exception as err:  # Ray raises bare Exception when its node does not start
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        where = f"join the Ray cluster at '{address}'" if address else "start a local Ray"
        raise ConfigError(f"cannot {where}: {message}") from None
    return True


def run_ray(
    points: Sequence[tuple[RunConfig, Path]],
    workers: int | None,
    threads: int,
    device: str,
    address: str | None,
    on_update: Update,
    trainer: Trainer | None = None,
) -> list[Outcome]:
    """Run ``points`` as Ray tasks, at most ``workers`` at once (None: all submitted)."""
    import ray

    started = connect(address)
    try:
        task = ray.remote(num_cpus=threads, max_retries=0)(run_point)
        limit = workers or len(points)
        return _drive(ray, task, points, limit, (threads, device, trainer), on_update)
    finally:
        if started:
            ray.shutdown()


def _drive(
    ray: Any,
    task: Any,
    points: Sequence[tuple[RunConfig, Path]],
    limit: int,
    options: tuple[int, str, Trainer | None],
    on_update: Update,
) -> list[Outcome]:
    """options: (threads, device, trainer) of every task."""
    outcomes: list[Outcome] = [Outcome(FAILED, "not run")] * len(points)
    queue = list(range(len(points)))
    pending: dict = {}
    while queue or pending:
        while queue and len(pending) < limit:
            index = queue.pop(0)
            cfg, run_dir = points[index]
            pending[task.remote(cfg, str(run_dir), *options)] = index
            on_update(index, "running")
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            index = pending.pop(ref)
            outcomes[index] = _get(ray, ref)
            on_update(index, outcomes[index])
    return outcomes


def _get(ray: Any, ref: Any) -> Outcome:
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as err:  # the worker died, or the node did
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return Outcome(FAILED, f"{type(err).__name__}: {first}; run the sweep again to resume")
