"""A pickle reader that can rebuild numpy arrays and nothing else.

Unpickling calls whatever global a file names, so a pickle from the internet can run any
code. ``RestrictedUnpickler`` resolves only the handful of globals that an array needs and
refuses every other one before it is imported or called. Dicts, lists, strings, bytes and
numbers are built by pickle opcodes and need no global.
"""

from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from types import ModuleType

from specdyn.data.errors import DataError

# (module, name) a pickled ndarray asks for -> (module to import, attribute). numpy 2 moved
# ``numpy.core`` to ``numpy._core``; both spellings resolve to whichever exists, without
# touching the deprecated alias.
_RECONSTRUCT = ("multiarray", "_reconstruct")
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose ``find_class`` accepts only the globals in ``ALLOWED``."""

    def __init__(self, file: io.BufferedIOBase, source: Path) -> None:
        super().__init__(file, encoding="latin1")  # Python 2 strings, as numpy advises
        self.source = source

    def find_class(self, module: str, name: str) -> object:
        target = ALLOWED.get((module, name))
        if target is None:
            raise DataError(f"{self.source}: refused to load global {module}.{name}")
        if target is _RECONSTRUCT:
            return _numpy_multiarray()._reconstruct
        return getattr(importlib.import_module(target[0]), target[1])


def load_restricted(path: Path) -> object:
    """Unpickle ``path`` with ``RestrictedUnpickler``; any failure is a ``DataError``."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, path).load()
        except DataError:
            raise
        except Exception as e:  # a malformed pickle can raise almost anything
            raise DataError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from e


def _numpy_multiarray() -> ModuleType:
    try:
        return importlib.import_module("numpy._core.multiarray")
    except ImportError:  # numpy < 2
        return importlib.import_module("numpy.core.multiarray")
