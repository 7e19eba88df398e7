"""Tidy tables written to Parquet atomically, one part file per flush.

A flush writes only the rows added since the previous one, as a new part file
(``RUN/parts/metrics.00000012.parquet``), so appending costs the same at the 10th and the
10,000th flush. ``compact()`` (when a run finishes, and when a resume drops rows) writes
the whole table to its own file (``metrics.parquet``) and removes the parts, oldest first.
Reading merges the table's file and then its parts in order. A row's key (e.g. step +
split) is unique: the last write of a key wins, so a resumed or repeated step never shows
up twice, and a crash between two parts, or inside a compaction, leaves a readable table.
Every page carries a CRC-32, checked when it is read: a damaged table is refused, not read
as other numbers.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from specdyn.errors import RunStoreError
from specdyn.store import layout
from specdyn.store.atomic import write_bytes


def read_table(path: Path, columns: tuple[str, ...], key: tuple[str, ...]) -> pd.DataFrame:
    """The table at ``path`` with its parts merged in; no file is an empty table."""
    paths = ([path] if path.exists() else []) + layout.part_files(path)
    return combine([_read(p, columns) for p in paths], columns, key)


def combine(
    frames: list[pd.DataFrame], columns: tuple[str, ...], key: tuple[str, ...]
) -> pd.DataFrame:
    """Frames in write order as one table: the last row of each key, stably by step."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in columns})
    both = pd.concat(frames, ignore_index=True)
    if key:  # no key (a finished analysis' table read as is): every row stays
        both = both.drop_duplicates(list(key), keep="last")
    return both.sort_values("step", kind="stable").reset_index(drop=True)


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path, page_checksum_verification=True)
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
    """An append-and-replace table over one Parquet file and its parts. ``key``: the
    unique columns. Rows must hold ``columns``; extra keys become extra columns.

    Rows once flushed live on disk only: memory holds the rows not yet written and those
    of the last flush (``latest``), so a long run's memory does not grow with its tables
    (it did: every flushed part stayed in memory as a small DataFrame, +8 MiB per 1,000
    steps of the random-label MLP's tiny preset). ``frame`` reads the table back when first
    asked (the finish step, an analysis) and keeps it, updated by each flush, until the next
    compaction (reading 2,500 parts takes seconds; one compacted file, milliseconds)."""

    def __init__(self, path: Path, columns: tuple[str, ...], key: tuple[str, ...]):
        self.path, self.columns, self.key = path, columns, key
        read_table(path, columns, key)  # a malformed table fails here, when it is opened
        self._disk: pd.DataFrame | None = None  # the rows on disk, once ``frame`` read them
        self._latest = pd.DataFrame()  # the rows of the last flush
        self._pending: list[dict] = []  # rows not on disk yet
        parts = layout.part_files(path)
        self._next = layout.part_number(parts[-1]) + 1 if parts else 1

    @property
    def frame(self) -> pd.DataFrame:
        """Every row, flushed or not, merged (the flushed ones read from disk)."""
        if self._disk is None:
            self._disk = read_table(self.path, self.columns, self.key)
        return self._with_pending(self._disk)

    def latest(self) -> pd.DataFrame:
        """The rows of the last flush and the rows not yet flushed, merged."""
        return self._with_pending(self._latest)

    def add(self, rows: list[dict]) -> None:
        self._pending.extend(rows)

    def flush(self) -> None:
        """Write the rows added since the last flush as one new part file."""
        if not self._pending:
            return
        new = self._new_rows()
        _write(layout.part_file(self.path, self._next), new)
        self._next += 1
        self._latest, self._pending = new, []
        if self._disk is not None:
            self._disk = combine([self._disk, new], self.columns, self.key)

    def drop_after(self, step: int) -> None:
        """Forget every row recorded after ``step`` (used when a run resumes)."""
        frame = self.frame
        self._replace(frame[frame["step"] <= step].reset_index(drop=True))

    def drop_rows(self, where: Callable[[pd.DataFrame], pd.Series]) -> None:
        """Forget the rows for which ``where(frame)`` is True, compacting the table."""
        frame = self.frame
        self._replace(frame[~where(frame)].reset_index(drop=True))

    def compact(self, force: bool = False) -> None:
        """Write the whole table to its own file and remove the parts, oldest first."""
        parts = layout.part_files(self.path)
        if not (parts or force or self._pending):
            return
        self._replace(self.frame)

    def _replace(self, frame: pd.DataFrame) -> None:
        """``frame`` becomes the table's own file; its parts and pending rows are gone."""
        parts = layout.part_files(self.path)
        _write(self.path, frame)
        for part in parts:
            part.unlink(missing_ok=True)
        # one file now, quick to read again: not kept, so a resumed run's memory stays flat
        self._disk, self._latest, self._pending = None, pd.DataFrame(), []

    def _with_pending(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not self._pending:
            return combine([frame], self.columns, self.key) if frame.empty else frame
        return combine([frame, self._new_rows()], self.columns, self.key)

    def _new_rows(self) -> pd.DataFrame:
        if not self._pending:
            return pd.DataFrame()
        new = pd.DataFrame(self._pending)  # required columns first, extra ones kept
        return new[list(self.columns) + [c for c in new.columns if c not in self.columns]]


def _write(path: Path, frame: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, write_page_checksum=True)  # checked when read
    write_bytes(path, buffer.getbuffer())
