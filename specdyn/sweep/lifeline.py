"""Workers die with the process that started them.

A sweep's points run in processes forked by multiprocessing's forkserver, so their parent
is the forkserver, not the sweep: a ``kill -9`` of the sweep used to leave the point's
worker training on (reparented to PID 1), holding its run folder's lock, so that running
the same command again reported the point as "being written by another process".
``die_with(pid)`` starts a daemon thread in the worker that waits on a pidfd of the sweep
(Linux 5.3+; elsewhere it polls every 0.2 s) and SIGKILLs the worker the moment the sweep
is gone. SIGKILL, not SIGTERM: the folder's lock must be free at once for the re-run, and a
run killed at any moment resumes from its last saved state (docs/reliability.md). The
forkserver and the resource tracker end by themselves once no process holds their pipes.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time


def die_with(pid: int) -> None:
    """SIGKILL this process as soon as process ``pid`` ends (at once if it has already)."""
    try:
        fd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, an old kernel, or ``pid`` already gone
        fd = None
        if not _alive(pid):
            _die()
    threading.Thread(target=_watch, args=(pid, fd), name="specdyn-lifeline", daemon=True).start()


def _watch(pid: int, fd: int | None) -> None:
    if fd is not None:
        select.select([fd], [], [])  # a pidfd becomes readable when its process exits
    else:
        while _alive(pid):
            time.sleep(0.2)
    _die()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
