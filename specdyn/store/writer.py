"""Writing a run directory. Every file is written atomically (see :mod:`.atomic`).

A RunWriter holds the folder's lock (:mod:`.lock`) from the moment it opens until
``close()`` or the end of the process, and removes the temporaries a killed write left.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from safetensors import safe_open
from torch import Tensor

from specdyn.errors import RunStoreError
from specdyn.store import layout, lock
from specdyn.store.atomic import (
    check_path_name,
    remove_temporaries,
    write_bytes,
    write_error,
    write_json,
)
from specdyn.store.tables import Table
from specdyn.store.tensorfile import file_chunks


class RunWriter:
    """The write side of a run directory: config, tables, spectra, checkpoints, state."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        check_path_name(self.path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise RunStoreError(f"'{self.path}' exists and is not a folder") from None
        except OSError as err:
            raise write_error(self.path, err) from err
        lock.acquire(self.path)
        try:
            for folder in layout.WRITER_FOLDERS:
                remove_temporaries(self.path / folder)
            self.history = Table(
                self.path / layout.HISTORY, layout.HISTORY_COLUMNS, layout.HISTORY_KEY
            )
            self.metrics = Table(
                self.path / layout.METRICS, layout.METRICS_COLUMNS, layout.METRICS_KEY
            )
        except BaseException:
            lock.release(self.path)
            raise
        self._open = True

    def close(self) -> None:
        """Release the folder's lock (the end of the process does it too)."""
        if self._open:
            self._open = False
            lock.release(self.path)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has_config(self) -> bool:
        return (self.path / layout.CONFIG).exists()

    def write_config(self, config: Mapping) -> None:
        write_json(self.path / layout.CONFIG, dict(config))

    def write_spectra(
        self,
        step: int,
        values: Mapping[str, Tensor],
        vectors: Mapping[str, tuple[Tensor, Tensor]],
        alignments: Mapping[str, Tensor],
    ) -> None:
        """One file per recorded step: singular values and (U, V) per matrix, alignment
        diagonals per pair; the matrix and pair names are kept in its metadata."""
        tensors = {layout.values_key(name): s for name, s in values.items()}
        for name, (U, V) in vectors.items():
            tensors[layout.left_key(name)], tensors[layout.right_key(name)] = U, V
        tensors |= {layout.alignment_key(name): d for name, d in alignments.items()}
        meta = {"step": str(step), "matrices": list(values), "pairs": list(alignments)}
        meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}
        _write_tensors(layout.step_file(self.path / layout.SPECTRA, step), tensors, meta)

    def drop_vectors(self, step: int) -> None:
        """Rewrite the spectra file of ``step`` without its singular vectors (values and
        alignment diagonals stay); nothing when it holds none. Atomic: a kill leaves the
        file with or without them."""
        path = layout.step_file(self.path / layout.SPECTRA, step)
        with safe_open(path, framework="pt") as f:
            keys = list(f.keys())
            if not layout.vector_matrices(keys):
                return
            meta = f.metadata()
            kept = {k: f.get_tensor(k) for k in keys if not layout.is_vector_key(k)}
        _write_tensors(path, kept, meta)

    def write_agreement(self, steps: Sequence[int], diagonals: Mapping[str, Tensor]) -> None:
        tensors = {layout.AGREEMENT_STEPS: torch.tensor(list(steps), dtype=torch.int64)}
        tensors |= {layout.agreement_key(name): d for name, d in diagonals.items()}
        _write_tensors(self.path / layout.AGREEMENT, tensors)

    def write_artifacts(self, tensors: Mapping[str, Tensor]) -> None:
        _write_tensors(self.path / layout.ARTIFACTS, tensors)

    def write_checkpoint(self, step: int, state_dict: Mapping[str, Tensor]) -> None:
        _write_tensors(layout.step_file(self.path / layout.CHECKPOINTS, step), state_dict)

    def write_state(self, state: Mapping) -> None:
        """Resume state: tensors and plain types only, read back with weights_only=True."""
        _save_torch(self.path / layout.STATE, state)

    def write_state_at(self, step: int, state: Mapping) -> None:
        """A full training state kept at ``step`` (``states/``) for branches to start from."""
        _save_torch(layout.state_file(self.path / layout.STATES, step), state)

    def analysis_table(
        self, name: str, table: str, columns: tuple[str, ...], key: tuple[str, ...]
    ) -> Table:
        """The table ``analyses/<name>/<table>.parquet`` (rows replace rows of the same key)."""
        return Table(layout.analysis_table(self.path, name, table), columns, key)

    def flush(self) -> None:
        self.history.flush()
        self.metrics.flush()

    def compact(self) -> None:
        """Each table into its own file, its parts removed (the end of a run)."""
        self.history.compact()
        self.metrics.compact()

    def drop_after(self, step: int) -> None:
        """Forget everything recorded after ``step``: tables, spectra and checkpoints."""
        self.history.drop_after(step)  # each table compacted without the dropped rows
        self.metrics.drop_after(step)
        for folder in (layout.SPECTRA, layout.CHECKPOINTS):
            for path in layout.step_files(self.path / folder):
                if layout.step_of(path) > step:
                    path.unlink()
        for later in layout.state_steps(self.path / layout.STATES):
            if later > step:
                layout.state_file(self.path / layout.STATES, later).unlink()
        (self.path / layout.AGREEMENT).unlink(missing_ok=True)


def _write_tensors(target: Path, tensors: Mapping[str, Tensor], meta: dict | None = None) -> None:
    """A safetensors file, streamed from the tensors' own memory (see :mod:`.tensorfile`)."""
    write_bytes(target, file_chunks(tensors, meta))


def _save_torch(target: Path, state: Mapping) -> None:
    """``torch.save`` of tensors and plain types, written atomically."""
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    write_bytes(target, buffer.getbuffer())
