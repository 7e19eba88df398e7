"""Undoing what a failed command added to a folder: the files and folders that were not
there before it started are removed, the others are left as they were.

For commands that only add files (an analysis' table parts, a branch folder): ``with
new_files_removed_on_error(folder):`` leaves ``folder`` as it was when the body raises.
An interrupt (Ctrl-C, SIGTERM) is not undone: what was written stays, to be resumed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


def paths_under(folder: Path) -> set[Path]:
    """``folder`` and everything under it; empty when it does not exist."""
    if not folder.exists():
        return set()
    return {folder, *folder.rglob("*")}


def remove_new(folder: Path, before: set[Path]) -> None:
    """Remove every path under ``folder`` (``folder`` included) that is not in ``before``,
    deepest first."""
    for path in sorted(paths_under(folder) - before, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()


@contextlib.contextmanager
def new_files_removed_on_error(*folders: Path) -> Iterator[None]:
    """On an exception in the body, remove what it added under each of ``folders``."""
    before = {folder: paths_under(folder) for folder in folders}
    try:
        yield
    except Exception:
        for folder in folders:
            remove_new(folder, before[folder])
        raise
