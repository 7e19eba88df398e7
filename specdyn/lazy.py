"""Package facades that import their members on first use.

``import specdyn`` (and every command-line entry) must not pay for torch, pandas or
matplotlib before it needs them: a package's ``__init__`` names what it exports and
where each lives, and ``lazy_exports`` turns that into the module's ``__getattr__``
(PEP 562). Type checkers see the same names through ``if TYPE_CHECKING:`` imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``: ``exports`` maps each public name to
    the module that defines it (a name that is itself a submodule maps to ``""``)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if exports[name] == "":
            return importlib.import_module(f"{package}.{name}")
        return getattr(importlib.import_module(exports[name]), name)

    return __getattr__
