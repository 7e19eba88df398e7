"""Atomic writes: a temporary file in the target's folder, fsynced, then renamed over it.

A reader sees the old file or the new one, never half of one; a killed writer leaves at
most a ``.tmp-*`` file, which the run writer removes when it next opens the run. Every
file gets the mode the user's umask gives (0644 under umask 022). A failing write (disk
full, permission denied, ...) raises RunWriteError, one line naming the file.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from specdyn.errors import RunWriteError
from specdyn.store.layout import TMP_PREFIX

_UMASK = os.umask(0o022)
os.umask(_UMASK)
MODE = 0o666 & ~_UMASK

_FIXES = {
    errno.ENOSPC: "free space",
    errno.EDQUOT: "free space",
    errno.EACCES: "make it writable",
    errno.EPERM: "make it writable",
    errno.EROFS: "make it writable",
}


def write_error(target: Path, err: OSError, resume: bool = True) -> RunWriteError:
    """``no space left on device while writing RUN/...; free space and run ... to resume``."""
    reason = os.strerror(err.errno) if err.errno else str(err)
    fix = _FIXES.get(err.errno or 0, "fix that")
    again = "run the same command again" + (" to resume" if resume else "")
    return RunWriteError(
        f"{reason[:1].lower()}{reason[1:]} while writing {target}; {fix} and {again}"
    )


def write_bytes(target: Path, data: bytes | memoryview, resume: bool = True) -> None:
    """Write ``data`` to ``target`` atomically; RunWriteError (one line) on any OSError."""
    with atomic_path(target, resume) as tmp:
        _write_all(tmp, data)


def _write_all(path: Path, data: bytes | memoryview) -> None:
    """The one write primitive of the store: every byte of ``data`` into ``path``."""
    fd = os.open(path, os.O_WRONLY)
    try:
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: Path, resume: bool = False) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``target``, on error it is removed."""
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f"{TMP_PREFIX}{target.name}.")
        os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, MODE)  # mkstemp makes 0600 and some writers recreate the file
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except RunWriteError:
        raise
    except OSError as err:
        raise write_error(target, err, resume) from err
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(target: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target) as tmp:
        write(tmp)


def write_json(target: Path, data: object) -> None:
    write_bytes(target, json.dumps(data, indent=2, sort_keys=False).encode())


def remove_temporaries(folder: Path) -> list[Path]:
    """Delete the ``.tmp-*`` files a killed write left in ``folder``; returns them."""
    if not folder.is_dir():
        return []
    leftovers = [p for p in folder.iterdir() if p.name.startswith(TMP_PREFIX) and p.is_file()]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers
