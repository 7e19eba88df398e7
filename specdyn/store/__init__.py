"""The run store: a self-describing run directory, written atomically and read back safely."""

from specdyn.store.reader import Run, open_run
from specdyn.store.writer import RunWriter

__all__ = ["Run", "open_run", "RunWriter"]
