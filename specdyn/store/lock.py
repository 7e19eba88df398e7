"""One writer per run folder: an ``flock`` on ``RUN/.lock`` held while the writer lives.

The operating system drops the lock when the holding process dies, however it dies, so a
killed run never leaves its folder stuck. The lock file stays empty and is never
written after it is created, so a refused command leaves the folder byte for byte as it
was; the message a second writer gets names the holder's PID, read from the kernel's
table of locks (``/proc/locks``; "PID unknown" where there is none).
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
        holder = _holder(os.fstat(fd))
        os.close(fd)
        raise RunStoreError(
            f"run folder '{folder}' is being written by another process ({holder}); "
            "wait for it to end or stop it, then run the same command again"
        ) from None
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


def _holder(file: os.stat_result) -> str:
    """``PID 123``: the process holding the flock on ``file``, from the lines of
    /proc/locks (``1: FLOCK ADVISORY WRITE 123 08:01:4567 0 EOF``: device and inode)."""
    dev = file.st_dev
    where = f"{os.major(dev):02x}:{os.minor(dev):02x}:{file.st_ino}"
    try:
        with open("/proc/locks") as table:
            lines = table.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == where:
            if fields[4].isdigit() and fields[4] != "0":
                return f"PID {fields[4]}"
    return "PID unknown"
