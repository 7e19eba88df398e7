"""A killed sweep leaves no process behind: kill -9 of the `specdyn sweep` parent takes the
point's worker with it (the forkserver and the resource tracker end by themselves), and
the same command, run again at once, finishes every point. Real processes, no mocks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ARGS = ["sweep", "grokking", "--preset", "tiny", "--grid", "weight_decay=0,1", "--no-progress"]
LONG = [
    "--set",
    "steps=400",
    "--set",
    "state_every=20",
    "--set",
    "every=400",
    "--set",
    "eval_every=400",
]


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_killing_the_sweep_parent_leaves_no_process_and_a_rerun_works(tmp_path):
    cmd = [sys.executable, "-m", "specdyn.cli.main", *ARGS, *LONG, "--out", str(tmp_path)]
    with (tmp_path.parent / f"{tmp_path.name}.log").open("w") as log:
        parent = subprocess.Popen(cmd, env=_env(), stdout=log, stderr=log, start_new_session=True)
    try:
        sweep = psutil.Process(parent.pid)
        # a point is training once its first resume state is on disk
        _wait_for(lambda: list(tmp_path.glob("*/*/state.pt")), 300, "no point started")
        family = sweep.children(recursive=True)  # forkserver, resource tracker, worker
        workers = [p for p in family if p.ppid() != parent.pid]  # the forkserver's children
        assert workers, f"no worker among {family}"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(60)
        _wait_for(lambda: all(_gone(p) for p in family), 30, f"survivors: {family}")
    finally:  # whatever happened, nothing of this sweep (its own process group) stays
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(60)
    again = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert "being written by another process" not in again.stdout + again.stderr
    assert again.stdout.count("done") >= 2, again.stdout
