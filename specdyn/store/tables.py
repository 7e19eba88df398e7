"""Tidy tables kept in memory and written to Parquet atomically.

A row's key (e.g. step + split) is unique: writing a row again replaces it, so a resumed or
repeated step never shows up twice.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from specdyn.errors import RunStoreError
from specdyn.store.atomic import write_bytes


def read_table(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """Read a Parquet table; an absent file is an empty table with ``columns``."""
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in columns})
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a malformed file
        raise RunStoreError(f"cannot read table '{path}': {err}") from err
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RunStoreError(f"table '{path}' lacks columns {missing}")
    return frame


def _dtype(column: str) -> str:
    return {"step": "int64", "loss": "float64", "error": "float64", "value": "float64"}.get(
        column, "object"
    )


class Table:
    """An append-and-replace table over one Parquet file. ``key``: the unique columns.

    Rows must hold ``columns``; extra keys become extra columns (e.g. WER beside CER).
    """

    def __init__(self, path: Path, columns: tuple[str, ...], key: tuple[str, ...]):
        self.path, self.columns, self.key = path, columns, key
        self._frame = read_table(path, columns)
        self._pending: list[dict] = []

    @property
    def frame(self) -> pd.DataFrame:
        self._merge()
        return self._frame

    def add(self, rows: list[dict]) -> None:
        self._pending.extend(rows)

    def drop_after(self, step: int) -> None:
        """Forget every row recorded after ``step`` (used when a run resumes)."""
        self._merge()
        self._frame = self._frame[self._frame["step"] <= step].reset_index(drop=True)

    def flush(self) -> None:
        buffer = io.BytesIO()
        self.frame.to_parquet(buffer, index=False)
        write_bytes(self.path, buffer.getbuffer())

    def _merge(self) -> None:
        if not self._pending:
            return
        new = pd.DataFrame(self._pending)  # required columns first, extra ones kept
        new = new[list(self.columns) + [c for c in new.columns if c not in self.columns]]
        self._pending = []
        both = new if self._frame.empty else pd.concat([self._frame, new], ignore_index=True)
        both = both.drop_duplicates(list(self.key), keep="last")
        self._frame = both.sort_values("step", kind="stable").reset_index(drop=True)
