"""The CLI in a child process forked from a server that imported torch and specdyn once.

A child is a real process (its own PID, signals, exit status or death by a signal), as a
``subprocess`` of ``python -m specdyn.cli.main`` is, but it starts in milliseconds instead
of the ~3.5 s that importing torch, specdyn and torch._dynamo takes each new interpreter.
The server is the one the local sweep backend uses.
"""

from __future__ import annotations

import fnmatch
import multiprocessing as mp
import os
import signal
import sys
from multiprocessing.process import BaseProcess
from pathlib import Path

from specdyn.sweep.local import PRELOAD


def start_cli(argv: list[str], stderr: Path, kill_at_rename: tuple[str, str, str] | None = None):
    """Start ``specdyn ARGV`` in a forked child writing its stderr to the file ``stderr``
    (its stdout is discarded). ``kill_at_rename=(pattern, when, armed_by)`` makes the child
    SIGKILL itself when a rename onto a file whose name matches ``pattern`` is due:
    ``"before"`` it (the data is still in a temporary) or ``"after"`` it; only renames after
    one onto a file named ``armed_by`` count (``""``: any)."""
    context = mp.get_context("forkserver")
    context.set_forkserver_preload([*PRELOAD, "specdyn.cli.main"])
    proc: BaseProcess = context.Process(target=_child, args=(argv, str(stderr), kill_at_rename))
    proc.start()
    return proc


def run_cli(argv: list[str], stderr: Path, kill_at_rename=None, timeout: float = 300) -> int:
    """``start_cli`` and wait: the exit status, or minus the signal that ended the child."""
    proc = start_cli(argv, stderr, kill_at_rename)
    proc.join(timeout)
    if proc.exitcode is None:
        proc.kill()
        proc.join()
        raise TimeoutError(f"specdyn {' '.join(argv)} still ran after {timeout} s")
    return proc.exitcode


def _child(argv: list[str], stderr: str, kill_at_rename: tuple[str, str, str] | None) -> None:
    with open(os.devnull, "wb") as null, open(stderr, "wb") as err:
        os.dup2(null.fileno(), 1)
        os.dup2(err.fileno(), 2)
    if kill_at_rename is not None:
        _arm(*kill_at_rename)
    from specdyn.cli.main import main

    sys.exit(main(argv))


def _arm(pattern: str, when: str, armed_by: str) -> None:
    real, armed = os.replace, [armed_by == ""]

    def replace(src, dst, *args, **kwargs):
        hit = armed[0] and fnmatch.fnmatch(os.path.basename(dst), pattern)
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst, *args, **kwargs)
        if hit and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        armed[0] = armed[0] or os.path.basename(dst) == armed_by

    os.replace = replace  # type: ignore[assignment]
