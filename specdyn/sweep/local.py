"""The local backend: each point in its own fresh process, at most ``workers`` at a time.

A process per point (not a long-lived pool) means a killed or crashed point takes down only
itself: the parent sees its exit code and goes on with the others. Processes come from a
``forkserver`` that imported torch and specdyn once, so a point starts in milliseconds, and
no thread pool or open file of the parent is inherited. Each worker dies with the process
that started it, however that one dies (see :mod:`.lifeline`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from specdyn.config.schema import RunConfig
from specdyn.sweep.lifeline import die_with
from specdyn.sweep.worker import FAILED, Outcome, Trainer, run_point

# Imported once by the forkserver, not by every point: torch._dynamo is what torch.optim
# imports when the first optimizer is built (about 1.5 s, more than a short point trains).
PRELOAD = ["specdyn.sweep.worker", "specdyn.train.loop", "torch._dynamo"]

# called with (index, "running" | Outcome) as points start and end
Update = Callable[[int, "str | Outcome"], None]


def run_local(
    points: Sequence[tuple[RunConfig, Path]],
    workers: int,
    threads: int,
    device: str,
    on_update: Update,
    trainer: Trainer | None = None,
) -> list[Outcome]:
    """Run ``points``; the outcomes come back in the order of ``points``."""
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    outcomes: list[Outcome | None] = [None] * len(points)
    queue = list(range(len(points)))
    active: dict[int, tuple[BaseProcess, Connection]] = {}
    try:
        while queue or active:
            while queue and len(active) < workers:
                index = queue.pop(0)
                cfg, run_dir = points[index]
                active[index] = _start(context, cfg, run_dir, threads, device, trainer)
                on_update(index, "running")
            ended = wait([proc.sentinel for proc, _ in active.values()])
            for index in [i for i, (p, _) in active.items() if p.sentinel in ended]:
                proc, conn = active.pop(index)
                outcome = _collect(proc, conn)
                outcomes[index] = outcome
                on_update(index, outcome)
    finally:
        for proc, _ in active.values():  # interrupted: stop what still runs
            proc.terminate()
            proc.join()
    return [o if o is not None else Outcome(FAILED, "not run") for o in outcomes]


def _start(
    context: Any, cfg: RunConfig, run_dir: Path, threads: int, device: str, trainer: Trainer | None
) -> tuple[BaseProcess, Connection]:
    receive, send = context.Pipe(duplex=False)
    args = (cfg, run_dir, threads, device, trainer, send, os.getpid())
    proc = context.Process(target=_child, args=args, name=f"specdyn {run_dir.name}")
    proc.start()
    send.close()  # the child holds the only writing end now
    return proc, receive


def _child(
    cfg: RunConfig,
    run_dir: Path,
    threads: int,
    device: str,
    trainer: Trainer | None,
    conn: Connection,
    parent: int,
) -> None:
    die_with(parent)  # a kill -9 of the sweep takes this worker with it
    outcome = run_point(cfg, run_dir, threads, device, trainer)
    conn.send(outcome)
    conn.close()


def _collect(proc: BaseProcess, conn: Connection) -> Outcome:
    proc.join()
    try:
        outcome = conn.recv() if conn.poll() else None
    except EOFError:
        outcome = None
    conn.close()
    if isinstance(outcome, Outcome):
        return outcome
    code = proc.exitcode
    if code is not None and code < 0:
        return Outcome(FAILED, f"worker killed by signal {-code}; run the sweep again to resume")
    return Outcome(FAILED, f"worker exited with status {code}; run the sweep again to resume")
