"""Writing a run directory. Every file is written atomically (see :mod:`.atomic`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import Tensor

from specdyn.store import layout
from specdyn.store.atomic import write_atomic, write_json
from specdyn.store.tables import Table


class RunWriter:
    """The write side of a run directory: config, tables, spectra, checkpoints, state."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.history = Table(self.path / layout.HISTORY, layout.HISTORY_COLUMNS, ("step", "split"))
        self.metrics = Table(
            self.path / layout.METRICS, layout.METRICS_COLUMNS, ("step", "matrix", "metric")
        )

    def write_config(self, config: Mapping) -> None:
        write_json(self.path / layout.CONFIG, dict(config))

    def write_spectra(self, step: int, tensors: Mapping[str, Tensor], meta: Mapping) -> None:
        """One safetensors file per recorded step; ``meta`` is stored as JSON strings."""
        target = layout.step_file(self.path / layout.SPECTRA, step)
        meta = {"step": str(step)} | {k: json.dumps(v) for k, v in meta.items()}
        write_atomic(target, lambda p: save_file(_contiguous(tensors), p, metadata=meta))

    def write_agreement(self, steps: Sequence[int], diagonals: Mapping[str, Tensor]) -> None:
        tensors = {"steps": torch.tensor(list(steps), dtype=torch.int64)}
        tensors |= {f"diag/{name}": d for name, d in diagonals.items()}
        write_atomic(self.path / layout.AGREEMENT, lambda p: save_file(_contiguous(tensors), p))

    def write_artifacts(self, tensors: Mapping[str, Tensor]) -> None:
        target = self.path / layout.ARTIFACTS
        write_atomic(target, lambda p: save_file(_contiguous(tensors), p))

    def write_checkpoint(self, step: int, state_dict: Mapping[str, Tensor]) -> None:
        target = layout.step_file(self.path / layout.CHECKPOINTS, step)
        write_atomic(target, lambda p: save_file(_contiguous(state_dict), p))

    def write_state(self, state: Mapping) -> None:
        """Resume state: tensors and plain types only, read back with weights_only=True."""
        write_atomic(self.path / layout.STATE, lambda p: torch.save(dict(state), p))

    def write_state_at(self, step: int, state: Mapping) -> None:
        """A full training state kept at ``step`` (``states/``) for branches to start from."""
        target = layout.state_file(self.path / layout.STATES, step)
        write_atomic(target, lambda p: torch.save(dict(state), p))

    def analysis_table(
        self, name: str, table: str, columns: tuple[str, ...], key: tuple[str, ...]
    ) -> Table:
        """The table ``analyses/<name>/<table>.parquet`` (rows replace rows of the same key)."""
        return Table(layout.analysis_table(self.path, name, table), columns, key)

    def flush(self) -> None:
        self.history.flush()
        self.metrics.flush()

    def drop_after(self, step: int) -> None:
        """Forget everything recorded after ``step``: tables, spectra and checkpoints."""
        self.history.drop_after(step)
        self.metrics.drop_after(step)
        self.flush()
        for folder in (layout.SPECTRA, layout.CHECKPOINTS):
            for path in layout.step_files(self.path / folder):
                if layout.step_of(path) > step:
                    path.unlink()
        for later in layout.state_steps(self.path / layout.STATES):
            if later > step:
                layout.state_file(self.path / layout.STATES, later).unlink()
        (self.path / layout.AGREEMENT).unlink(missing_ok=True)


def _contiguous(tensors: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
