"""Backends for real: a worker killed mid-run (kill -9) is reported, the sweep goes on, and
the same command resumes it, with results identical to an uninterrupted sweep. The Ray
backend runs on a local Ray instance started once for the test session; no mocks."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from specdyn import open_sweep
from specdyn.sweep import SweepSpec, run_sweep
from specdyn.sweep.runner import SweepResult

ray = pytest.importorskip("ray")

LONG = ("steps=200", "state_every=10", "every=50", "eval_every=50")
GRID = (("weight_decay", ("0", "1")),)


def _spec(backend: str) -> SweepSpec:
    return SweepSpec("grokking", "tiny", GRID, (0,), LONG, backend, workers=1)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> SweepResult:
    """The two points on the local backend, never interrupted."""
    return run_sweep(_spec("local"), tmp_path_factory.mktemp("reference"), progress=False)


def _kill_first_point_mid_run(spec: SweepSpec, out: Path, find_worker) -> SweepResult:
    """Run the sweep in a thread; kill -9 the process training point 0 once it has saved
    its first resume state (step 10 of 60)."""
    results: list[SweepResult] = []
    thread = threading.Thread(target=lambda: results.append(run_sweep(spec, out, progress=False)))
    thread.start()
    first = None
    deadline = time.time() + 120
    while first is None and time.time() < deadline:
        if any(out.glob("sweep-*/grokking-tiny-*/state.pt")):
            first = find_worker()
        time.sleep(0.01)
    assert first is not None, "no worker found"
    os.kill(first.pid, signal.SIGKILL)
    thread.join(timeout=600)
    return results[0]


def _local_worker():
    """The process that trains a point on the local backend: a child of the forkserver
    (which forks it, so both run the forkserver's command line)."""
    for proc in psutil.Process().children(recursive=True):
        parent = proc.parent()
        if parent is not None and _forked(proc) and _forked(parent):
            return proc
    return None


def _forked(proc: psutil.Process) -> bool:
    return any("multiprocessing.forkserver" in part for part in proc.cmdline())


def _ray_worker():
    for proc in psutil.process_iter(["cmdline"]):
        if any("ray::run_point" in part for part in proc.info["cmdline"] or ()):
            return proc
    return None


def _same_results(a: SweepResult, b: SweepResult) -> None:
    for table in ("history", "metrics"):
        left, right = getattr(open_sweep(a.path), table), getattr(open_sweep(b.path), table)
        keys = [c for c in left.columns if c not in ("loss", "error", "value")]
        pd.testing.assert_frame_equal(
            left.sort_values(keys).reset_index(drop=True),
            right.sort_values(keys).reset_index(drop=True),
        )


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_killed_worker_is_reported_then_resumed(tmp_path, reference, backend, request):
    if backend == "ray":
        request.getfixturevalue("ray_instance")
    find = _ray_worker if backend == "ray" else _local_worker
    first = _kill_first_point_mid_run(_spec(backend), tmp_path, find)
    states = [p["state"] for p in first.manifest["points"]]
    assert states == ["failed", "done"], first.manifest["points"]
    assert "resume" in first.manifest["points"][0]["error"]
    killed = first.points[0].run_dir
    assert (killed / "state.pt").exists() and not (killed / "agreement.safetensors").exists()

    again = run_sweep(_spec(backend), tmp_path, progress=False)
    assert [p["state"] for p in again.manifest["points"]] == ["done", "done"]
    _same_results(again, reference)
