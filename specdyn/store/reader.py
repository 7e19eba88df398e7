"""Reading a run directory: ``specdyn.open_run(path)``. Nothing here unpickles objects."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from specdyn.errors import RunStoreError
from specdyn.store import layout
from specdyn.store.tables import read_table


def open_run(path: str | Path) -> Run:
    """Open the run at ``path``; RunStoreError if it is not a specdyn run."""
    return Run(Path(path))


class Run:
    """Read access to a run directory. Tables are pandas DataFrames; arrays are numpy."""

    def __init__(self, path: Path):
        self.path = path
        config_path = path / layout.CONFIG
        if not config_path.is_file():
            raise RunStoreError(f"'{path}' is not a specdyn run (no {layout.CONFIG})")
        try:
            self.config: dict = json.loads(config_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise RunStoreError(f"'{config_path}' is not valid JSON: {err}") from err
        if not isinstance(self.config, dict):
            kind = type(self.config).__name__
            raise RunStoreError(f"'{config_path}' holds a JSON {kind}, not a run's config object")

    def __repr__(self) -> str:
        return f"Run('{self.path}')"

    @cached_property
    def history(self) -> pd.DataFrame:
        """Columns step, split, loss, error."""
        return read_table(self.path / layout.HISTORY, layout.HISTORY_COLUMNS)

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """Columns step, matrix, metric, value."""
        return read_table(self.path / layout.METRICS, layout.METRICS_COLUMNS)

    def metric_values(self, metric: str, at: str = "last") -> dict[str, float]:
        """matrix (or pair) -> value of ``metric`` at its ``first`` or ``last`` step."""
        table = self.metrics[self.metrics["metric"] == metric]
        if table.empty:
            return {}
        step = table["step"].max() if at == "last" else table["step"].min()
        rows = table[table["step"] == step]
        return dict(zip(rows["matrix"], rows["value"].astype(float), strict=True))

    @property
    def steps(self) -> np.ndarray:
        """The recorded steps, ascending."""
        return np.array([layout.step_of(p) for p in self._spectra_files], dtype=np.int64)

    @cached_property
    def matrices(self) -> list[str]:
        """Recorded matrix names in depth order."""
        return self._meta("matrices")

    @cached_property
    def pairs(self) -> list[str]:
        """Recorded alignment pair names, ``prev->next``."""
        return self._meta("pairs")

    def singular_values(self, matrix: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps (T,), values (T, r)) for ``matrix``."""
        return self._series(f"s/{matrix}", matrix)

    def alignment(self, pair: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps (T,), diagonal of Eq. 3 (T, k)) for the pair named ``prev->next``."""
        return self._series(f"align/{pair}", pair)

    def vectors(self, matrix: str, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(U (m, k), V (n, k)) of ``matrix`` at ``step``."""
        path = layout.step_file(self.path / layout.SPECTRA, step)
        if not path.exists():
            raise RunStoreError(f"run '{self.path}' recorded no spectra at step {step}")
        with _open(path) as f:
            return _get(f, f"U/{matrix}", path), _get(f, f"V/{matrix}", path)

    def agreement(self, matrix: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps (T,), diagonal of Eq. 5 against the final step (T, k)) for ``matrix``."""
        path = self.path / layout.AGREEMENT
        if not path.exists():
            raise RunStoreError(f"run '{self.path}' has no agreement yet (is it finished?)")
        with _open(path) as f:
            return _get(f, "steps", path), _get(f, f"diag/{matrix}", path)

    def artifacts(self) -> dict[str, np.ndarray]:
        """Tensors the task kept from the final model (e.g. ``samples``); {} if none."""
        path = self.path / layout.ARTIFACTS
        if not path.exists():
            return {}
        with _open(path) as f:
            return {key: f.get_tensor(key).numpy() for key in f.keys()}

    @property
    def checkpoint_steps(self) -> list[int]:
        return [layout.step_of(p) for p in layout.step_files(self.path / layout.CHECKPOINTS)]

    def checkpoint(self, step: int) -> dict[str, torch.Tensor]:
        """The model's state dict saved at ``step``."""
        path = layout.step_file(self.path / layout.CHECKPOINTS, step)
        if not path.exists():
            raise RunStoreError(f"run '{self.path}' has no checkpoint at step {step}")
        try:
            return load_file(path)
        except SafetensorError as err:
            raise RunStoreError(f"checkpoint '{path}' is malformed: {err}") from err

    @property
    def _spectra_files(self) -> list[Path]:
        return layout.step_files(self.path / layout.SPECTRA)

    def _meta(self, key: str) -> list[str]:
        files = self._spectra_files
        if not files:
            return []
        with _open(files[-1]) as f:
            return json.loads((f.metadata() or {}).get(key, "[]"))

    def _series(self, key: str, label: str) -> tuple[np.ndarray, np.ndarray]:
        steps, rows = [], []
        for path in self._spectra_files:
            with _open(path) as f:
                if key in f.keys():
                    steps.append(layout.step_of(path))
                    rows.append(f.get_tensor(key).float().numpy())
        if not rows:
            raise RunStoreError(f"run '{self.path}' recorded nothing for '{label}'")
        return np.array(steps, dtype=np.int64), np.stack(rows)


def _open(path: Path):
    try:
        return safe_open(path, framework="pt")
    except (SafetensorError, OSError) as err:
        raise RunStoreError(f"'{path}' is not a readable safetensors file: {err}") from err


def _get(f, key: str, path: Path) -> np.ndarray:
    if key not in f.keys():
        raise RunStoreError(f"'{path}' holds no '{key}'")
    return f.get_tensor(key).numpy()
