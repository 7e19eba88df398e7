"""Checksums of run files: recorded when a file is written, checked when a run is reopened.

A safetensors file of a run carries the SHA-256 of its data section in its own header
(metadata key ``layout.CHECKSUM``), so no extra file is needed and a file moved or copied
alone still carries its check. Reopening a run checks every such file: the header is JSON
whose tensors tile the data section exactly (each one's bytes match its dtype and shape),
the file is exactly as long as the header says, and the data hash matches. Files written
before checksums existed get the structural check only. Torch files (``state.pt``,
``states/*.pt``) are zip archives whose every member has a CRC-32; tables are Parquet with
page checksums (see :mod:`.tables`), each page checked. Nothing here unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

from specdyn.errors import RunStoreError
from specdyn.store import layout

# bytes per element of every safetensors dtype
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
_CHUNK = 1 << 24  # bytes hashed at a time


def safetensors_problem(path: Path) -> str | None:
    """What is wrong with the safetensors file at ``path``; None when it is whole. The
    data is hashed in chunks as it is read: a file is never held in memory whole."""
    try:
        with open(path, "rb") as f:
            return _stream_problem(f, os.fstat(f.fileno()).st_size)
    except OSError as err:
        return f"cannot be read: {err.strerror or err}"


def _stream_problem(f: BinaryIO, size: int) -> str | None:
    if size < 8:
        return f"is {size} bytes long, shorter than a safetensors header"
    n = struct.unpack("<Q", f.read(8))[0]
    if n > size - 8:
        return f"declares a header of {n:,} bytes but the file holds {size:,}"
    try:
        header = json.loads(f.read(n))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "has a header that is not JSON"
    if not isinstance(header, dict):
        return "has a header that is not a JSON object"
    problem = _tiling_problem(header, size - 8 - n)
    if problem is not None:
        return problem
    meta = header.get("__metadata__") or {}
    want = meta.get(layout.CHECKSUM) if isinstance(meta, dict) else None
    if want is None:
        return None
    digest = hashlib.sha256()
    while chunk := f.read(_CHUNK):
        digest.update(chunk)
    if digest.hexdigest() != want:
        return "holds data that does not match the checksum recorded when it was written"
    return None


def _tiling_problem(header: dict, data_bytes: int) -> str | None:
    """Whether the tensors of ``header`` cover the ``data_bytes`` of data exactly."""
    spans = []
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            start, end = entry["data_offsets"]
            count = 1
            for size in entry["shape"]:
                count *= int(size)
            width = DTYPE_BYTES[entry["dtype"]]
        except (KeyError, TypeError, ValueError):
            return f"has a malformed header entry for '{key}'"
        if end - start != count * width:
            need = count * width
            return f"declares {end - start:,} bytes for '{key}', whose shape needs {need:,}"
        spans.append((start, end))
    position = 0
    for start, end in sorted(spans):
        if start != position:
            return "has tensors that overlap or leave holes in its data"
        position = end
    if position != data_bytes:
        return f"holds {data_bytes:,} bytes of data but its header declares {position:,}"
    return None


def torch_file_problem(path: Path) -> str | None:
    """What is wrong with the torch file (a zip archive) at ``path``; None when whole."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # reads every member and checks its CRC-32
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        return f"is unreadable: not a whole torch file ({err})"
    if bad is not None:
        return f"is unreadable: its member '{bad}' does not match its CRC-32 (damaged)"
    return None


def table_problem(path: Path) -> str | None:
    """What is wrong with the Parquet table at ``path`` (its pages' CRC-32s checked)."""
    import pandas as pd

    try:
        pd.read_parquet(path, page_checksum_verification=True)
    except Exception as err:  # pyarrow raises several types for a malformed file
        return f"is not a readable Parquet table: {err}"
    return None


def run_files(path: Path) -> list[Path]:
    """Every table, safetensors and torch file of the run at ``path`` (branches aside)."""
    found = [path / layout.HISTORY, path / layout.METRICS]
    found += layout.part_files(path / layout.HISTORY) + layout.part_files(path / layout.METRICS)
    found += [path / layout.AGREEMENT, path / layout.ARTIFACTS, path / layout.STATE]
    for folder in (layout.SPECTRA, layout.CHECKPOINTS):
        found += layout.step_files(path / folder)
    states = path / layout.STATES
    found += [layout.state_file(states, step) for step in layout.state_steps(states)]
    return [p for p in found if p.exists()]


def file_problem(path: Path) -> str | None:
    if path.suffix == ".pt":
        return torch_file_problem(path)
    if path.suffix == ".parquet":
        return table_problem(path)
    return safetensors_problem(path)


def damaged_files(path: Path) -> list[tuple[Path, str]]:
    """(file, what is wrong) for every damaged file of the run at ``path``."""
    found = []
    for file in run_files(path):
        problem = file_problem(file)
        if problem is not None:
            found.append((file, problem))
    return found


def redone_files(path: Path, last: object) -> tuple[Path, ...]:
    """The files that a resume rewrites from the final weights when they are missing: the
    final checkpoint (``last``: the run's train.steps), the agreement and the artifacts."""
    final = (layout.step_file(path / layout.CHECKPOINTS, last),) if isinstance(last, int) else ()
    return (*final, path / layout.AGREEMENT, path / layout.ARTIFACTS)


def check_run_files(path: Path, last: object = None) -> None:
    """RunStoreError naming the first damaged file of the run at ``path`` (``last``: the
    run's train.steps, which names the final checkpoint, rewritten when it is missing)."""
    found = damaged_files(path)
    if not found:
        return
    file, problem = found[0]
    more = f" ({len(found) - 1} more damaged)" if len(found) > 1 else ""
    if file in redone_files(path, last):
        fix = "delete it and run the training command again: it is rewritten from the final model"
    else:
        fix = "restore it from a copy, or remove the run folder and train again"
    what = "resume state " if file == path / layout.STATE else ""
    raise RunStoreError(f"{what}'{file}' {problem}{more}; {fix}")
