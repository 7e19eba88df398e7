"""The run store: a self-describing run directory, written atomically and read back safely."""

from typing import TYPE_CHECKING

from specdyn.lazy import lazy_exports

if TYPE_CHECKING:
    from specdyn.store.reader import Run, open_run
    from specdyn.store.writer import RunWriter

__getattr__ = lazy_exports(
    __name__,
    {
        "Run": "specdyn.store.reader",
        "open_run": "specdyn.store.reader",
        "RunWriter": "specdyn.store.writer",
    },
)

__all__ = [
    "Run",
    "open_run",
    "RunWriter",
]
