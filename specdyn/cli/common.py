"""What subcommand modules share: the parser type they add themselves to, common options."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from specdyn.store.reader import Run
    from specdyn.sweep.backends import Execution

Subparsers = argparse._SubParsersAction  # of argparse.ArgumentParser


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    """The options of commands that run many points: where and how they run."""
    p.add_argument("--backend", default="local", help="local or ray (default: local)")
    p.add_argument("--workers", type=int, help="points at once (default: 1 locally, all on Ray)")
    p.add_argument("--address", help="Ray cluster to join: auto or HOST:PORT (default: local)")
    p.add_argument(
        "--threads",
        type=int,
        help="torch threads per point (default: cores // workers; use 1 on shared cores)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def execution(args: argparse.Namespace) -> Execution:
    """The Execution the options of ``add_backend_arguments`` name."""
    from specdyn.sweep.backends import Execution

    return Execution(
        args.backend, args.workers, args.address, args.device, args.threads, not args.no_progress
    )


def free_cores() -> tuple[int, str]:
    """Torch threads for one run, and why: the cores this process may use, less the other
    CPU-bound work the 1-minute load average shows (at least 1). On shared cores a second
    thread waits on the other job at every synchronisation, so a run slows down instead of
    speeding up (docs/benchmarks.md)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this system
        return cores, f"{cores} cores"
    threads = max(1, min(cores, cores - round(load)))
    return threads, f"{cores} cores, load average {load:.1f}"


def open_checked_run(path: str | Path) -> Run:
    """The run at ``path`` as commands reopen it: config.json checked (field types and a
    known task), every file checked against its recorded checksum; else one-line error."""
    from specdyn.store import layout
    from specdyn.store.reader import open_run
    from specdyn.tasks.registry import check_run_task

    run = open_run(path, verify=True)
    check_run_task(run.config, str(run.path / layout.CONFIG))
    return run
