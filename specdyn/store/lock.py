"""One writer per run folder: an ``flock`` on ``RUN/.lock`` held while the writer lives.

The operating system drops the lock when the holding process dies, however it dies, so a
killed run never leaves its folder stuck. The lock file holds the holder's PID, for the
message a second writer gets.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from specdyn.errors import RunStoreError
from specdyn.store.atomic import write_error
from specdyn.store.layout import LOCK

_held: dict[Path, list[int]] = {}  # folder -> [fd, writers of this process holding it]


def acquire(folder: Path) -> None:
    """Take the folder's lock (re-entrant within a process); RunStoreError if it is taken."""
    key = folder.resolve()
    if key in _held:
        _held[key][1] += 1
        return
    path = folder / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as err:
        raise write_error(path, err) from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise RunStoreError(
            f"run folder '{folder}' is being written by another process ({holder}); "
            "wait for it to end or stop it, then run the same command again"
        ) from None
    pid = f"{os.getpid()}\n".encode()
    try:
        if os.pread(fd, 32, 0) != pid:  # rewritten only by a new process: a rerun in the
            os.ftruncate(fd, 0)  # same process leaves the folder untouched
            os.pwrite(fd, pid, 0)
    except OSError:  # a full disk: the lock holds all the same, only the PID is unknown
        pass
    _held[key] = [fd, 1]


def release(folder: Path) -> None:
    """Give back one hold of the folder's lock; the last one closes it."""
    key = folder.resolve()
    entry = _held.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] == 0:
        del _held[key]
        os.close(entry[0])  # closing the descriptor releases the flock


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    return f"PID {text}" if text.isdigit() else "PID unknown"
