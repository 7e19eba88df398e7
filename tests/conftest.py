"""Shared fixtures: tiny runs of every task, each trained once per test session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from specdyn.tasks import get_preset
from specdyn.train import train

CPU = torch.device("cpu")


@pytest.fixture(scope="session")
def tiny_run(tiny_task_run) -> Path:
    """A finished run of the grokking ``tiny`` preset (20 steps, recorded every 5)."""
    return tiny_task_run("grokking")


@pytest.fixture(scope="session")
def tiny_task_run(tmp_path_factory) -> Iterator[Callable[[str], Path]]:
    """``tiny_task_run(task)``: the folder of a finished run of ``task``'s ``tiny`` preset,
    trained on first use with one thread (tiny models gain nothing from more, and one
    thread makes the numbers independent of the machine's core count). Tests may read it
    and rerun it, but must not change its files."""
    root = tmp_path_factory.mktemp("tiny-runs")
    done: dict[str, Path] = {}

    def run_of(task: str) -> Path:
        if task not in done:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                done[task] = train(get_preset(task, "tiny"), root / task, CPU, progress=False)
            finally:
                torch.set_num_threads(threads)
        return done[task]

    yield run_of


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[None]:
    """A local Ray instance (2 CPUs), started once for the test session (it takes seconds);
    the Ray backend joins it."""
    ray = pytest.importorskip("ray")
    for attempt in (1, 2):  # Ray gives its raylet 30 s to start: too short on loaded cores
        try:
            ray.init(
                num_cpus=2,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                log_to_driver=False,
                configure_logging=False,
            )
            break
        except Exception as err:
            ray.shutdown()
            if attempt == 2 or "timed out during startup" not in str(err):
                raise
    yield
    ray.shutdown()


def file_times(run_dir: Path) -> dict[str, int]:
    """Modification time of every file of a run folder but its lock file (which a writer
    creates when the folder has none): what a rerun of a finished run must leave
    unchanged."""
    return {
        p.name: p.stat().st_mtime_ns for p in run_dir.iterdir() if p.is_file() and p.name != ".lock"
    }
