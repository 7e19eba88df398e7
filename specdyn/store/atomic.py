"""Atomic writes: a temporary file in the target's folder, fsynced, then renamed over it.

A reader sees the old file or the new one, never half of one; a killed writer leaves at
most a ``.tmp-*`` file, which the run writer removes when it next opens the run. Every
file gets the mode the user's umask gives (0644 under umask 022). A failing write (disk
full, permission denied, ...) raises RunWriteError, one line naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from specdyn.errors import RunStoreError, RunWriteError
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


def check_path_name(path: Path) -> None:
    """RunStoreError unless every file under ``path`` can be named: the Parquet and
    safetensors libraries take UTF-8 paths, so a name that is not UTF-8 (bytes the file
    system encoding kept as surrogates) would fail only at the first table write, after
    training. Checked before any folder is made."""
    name = str(path.absolute())
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as err:
        bad = name[err.start : err.end].encode("utf-8", "surrogateescape")
        raise RunStoreError(
            f"cannot write under {str(path)!r}: its name is not UTF-8 (byte {bad!r}); "
            "choose a folder whose name is"
        ) from None


Bytes = bytes | memoryview | Iterable[bytes | memoryview]  # the whole, or its chunks in order


def write_bytes(target: Path, data: Bytes, resume: bool = True) -> None:
    """Write ``data`` to ``target`` atomically; RunWriteError (one line) on any OSError."""
    with atomic_path(target, resume) as tmp:
        _write_all(tmp, data)


def _write_all(path: Path, data: Bytes) -> None:
    """The one write primitive of the store: every byte of ``data`` (or of each of its
    chunks, in order) into ``path``."""
    chunks = (data,) if isinstance(data, bytes | memoryview) else data
    fd = os.open(path, os.O_WRONLY)
    try:
        for chunk in chunks:
            view = memoryview(chunk).cast("B")
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


def write_all_or_none(files: Mapping[Path, Bytes], resume: bool = False) -> None:
    """Write every file of ``files`` or none of them: each into a temporary beside it
    first, then all renamed into place. On an error (a full disk at the 7th of 7 files)
    the temporaries and any folder made here are removed, the old files stay as they were,
    and RunWriteError names the file."""
    made = _missing_folders({path.parent for path in files})
    done: dict[Path, Path] = {}
    target = next(iter(files), Path())
    try:
        for target, data in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f"{TMP_PREFIX}{target.name}.")
            os.close(fd)
            done[target] = Path(name)
            _write_all(done[target], data)
            os.chmod(name, MODE)
            with open(name, "rb+") as f:
                os.fsync(f.fileno())
    except OSError as err:
        for written in done.values():
            written.unlink(missing_ok=True)
        for folder in sorted(made, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise write_error(target, err, resume) from err
    for target, written in done.items():
        os.replace(written, target)


def _missing_folders(folders: set[Path]) -> set[Path]:
    """The folders among ``folders`` and their parents that do not exist yet."""
    missing = set()
    for folder in folders:
        while not folder.exists() and folder != folder.parent:
            missing.add(folder)
            folder = folder.parent
    return missing


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
