"""Reading a run directory: ``specdyn.open_run(path)``. Nothing here unpickles objects.

Readers check what they read: config.json must be an object with the fields that
:mod:`.files` lists, every step in the metrics must have its spectra file and the other
way round (``Run.gaps``), and a malformed file is a one-line RunStoreError naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from safetensors import SafetensorError, safe_open

from specdyn.errors import RunStoreError
from specdyn.store import layout
from specdyn.store.files import has_records, load_torch_file, read_config, read_state
from specdyn.store.tables import read_table
from specdyn.store.verify import check_run_files

if TYPE_CHECKING:  # reading a run's tables and spectra needs no torch; its states do
    import torch

    from specdyn.spectral.baselines import Baseline

__all__ = ["Run", "existing_run", "open_run", "read_config", "read_state", "has_records"]


def open_run(path: str | Path, verify: bool = False) -> Run:
    """Open the run at ``path``; RunStoreError if it is not a specdyn run. ``verify``:
    also check every safetensors and torch file of the run against the checksum recorded
    when it was written (RunStoreError naming the first damaged one): what commands do
    when they reopen a run."""
    run = Run(Path(path))
    if verify:
        check_run_files(run.path, (run.config.get("train") or {}).get("steps"))
    return run


def existing_run(path: str | Path) -> Run | None:
    """The run at ``path``; None where there is none yet (no folder, or an empty one);
    RunStoreError where the folder holds something else."""
    path = Path(path)
    if (path / layout.CONFIG).is_file():
        return Run(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise RunStoreError(f"'{path}' exists and is not a run folder")
    return None


class Run:
    """Read access to a run directory. Tables are pandas DataFrames; arrays are numpy."""

    def __init__(self, path: Path):
        self.path = path
        self.config: dict = read_config(path) or {}

    def __repr__(self) -> str:
        return f"Run('{self.path}')"

    @cached_property
    def history(self) -> pd.DataFrame:
        """Columns step, split, loss, error."""
        return read_table(self.path / layout.HISTORY, layout.HISTORY_COLUMNS, layout.HISTORY_KEY)

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """Columns step, matrix, metric, value."""
        return read_table(self.path / layout.METRICS, layout.METRICS_COLUMNS, layout.METRICS_KEY)

    def metric_values(self, metric: str, at: str = "last") -> dict[str, float]:
        """matrix (or pair) -> value of ``metric`` at its ``first`` or ``last`` step."""
        table = self.metrics[self.metrics["metric"] == metric]
        if table.empty:
            return {}
        step = table["step"].max() if at == "last" else table["step"].min()
        rows = table[table["step"] == step]
        return dict(zip(rows["matrix"], rows["value"].astype(float), strict=True))

    def baseline(self, metric: str, matrix: str, step: int | None = None) -> Baseline:
        """What ``metric`` of ``matrix`` (or pair) would be at ``step`` (default: the last)
        on random data of the same dimensions: ``.mean``, ``.std`` (one random draw's
        spread), ``.distance(value)`` in stds. See :mod:`specdyn.spectral.baselines`."""
        from specdyn.store.baselines import run_baseline  # a Monte Carlo: torch

        return run_baseline(self, metric, matrix, step)

    def has_step(self, step: int) -> bool:
        """Whether ``step`` is fully written: its metrics and history rows, its spectra
        file and its checkpoint (what a training run's final step leaves)."""
        rows = self.metrics["step"].eq(step).any() and self.history["step"].eq(step).any()
        return bool(rows) and step in self.steps and step in self.checkpoint_steps

    def recorded_steps(self, metric: str) -> set[int]:
        """The steps whose spectra file and ``metric`` rows are both on disk: those a
        recorder wrote whole, when ``metric`` is the last it writes for a step."""
        table = self.metrics
        with_rows = set(table.loc[table["metric"] == metric, "step"].astype(int))
        return with_rows & {int(s) for s in self.steps}

    @cached_property
    def top_k(self) -> int:
        """Singular vectors kept per matrix at a recorded step: the run's ``record.top_k``
        (a trained run) or its recorder's (a Recorder or ``analyze`` run), else as many as
        its last step kept."""
        for section in ("record", "recorder"):
            k = (self.config.get(section) or {}).get("top_k")
            if isinstance(k, int) and not isinstance(k, bool):
                return k
        return max((k for _, k in self.shapes.values()), default=0)

    @cached_property
    def shapes(self) -> dict[str, tuple[tuple[int, int], int]]:
        """matrix -> ((m, n), vectors kept), read from the last step that kept vectors;
        matrices recorded without vectors are absent."""
        for path in reversed(self._spectra_files):
            with _open(path) as f:
                names = layout.vector_matrices(list(f.keys()))
                if names:
                    return {n: _geometry(f, n) for n in names}
        return {}

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
        return self._series(layout.values_key(matrix), matrix)

    def alignment(self, pair: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps (T,), diagonal of Eq. 3 (T, k)) for the pair named ``prev->next``."""
        return self._series(layout.alignment_key(pair), pair)

    def all_singular_values(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """matrix -> (steps (T,), values (T, r)) for every matrix, reading each file once."""
        return self._all_series(layout.VALUES_PREFIX)

    def all_alignments(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """pair -> (steps (T,), diagonal (T, k)) for every pair, reading each file once."""
        return self._all_series(layout.ALIGNMENT_PREFIX)

    @property
    def vector_steps(self) -> list[int]:
        """The recorded steps whose spectra file holds singular vectors: every recorded step
        while a run is live, the ``record.vector_points`` kept ones once it has finished."""
        found = []
        for path in self._spectra_files:
            with _open(path) as f:
                if layout.vector_matrices(list(f.keys())):
                    found.append(layout.step_of(path))
        return found

    def vectors(self, matrix: str, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(U (m, k), V (n, k)) of ``matrix`` at ``step``; a RunStoreError naming the steps
        that kept vectors when ``step`` kept none."""
        path = self._spectra_file(step)
        with _open(path) as f:
            if not layout.vector_matrices(list(f.keys())):
                raise RunStoreError(self._no_vectors(step))
            return _get(f, layout.left_key(matrix), path), _get(f, layout.right_key(matrix), path)

    def _no_vectors(self, step: int) -> str:
        kept = self.vector_steps
        shown = ", ".join(map(str, kept[:8])) + (", ..." if len(kept) > 8 else "")
        return (
            f"run '{self.path}' kept no singular vectors at step {step} (kept at "
            f"{len(kept)} steps: {shown or 'none'}; see record.vector_points)"
        )

    def vector_matrices(self, step: int) -> list[str]:
        """The matrices whose singular vectors were kept at ``step`` (none: [])."""
        with _open(self._spectra_file(step)) as f:
            return layout.vector_matrices(list(f.keys()))

    def step_vectors(
        self, step: int, matrices: Iterable[str] | None = None
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """matrix -> (U, V) for every matrix whose vectors were kept at ``step``, or for
        the given ``matrices`` only (read with one opening of the file)."""
        path = self._spectra_file(step)
        with _open(path) as f:
            names = layout.vector_matrices(list(f.keys())) if matrices is None else matrices
            return {
                n: (_get(f, layout.left_key(n), path), _get(f, layout.right_key(n), path))
                for n in names
            }

    def spectrum(self, matrix: str, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(s (r,), U (m, k), V (n, k)) of ``matrix`` recorded at ``step``, vectors as stored
        (float32 or float16)."""
        path = layout.step_file(self.path / layout.SPECTRA, step)
        if not path.exists():
            raise RunStoreError(f"run '{self.path}' recorded no spectra at step {step}")
        with _open(path) as f:
            return tuple(_get(f, f"{kind}/{matrix}", path) for kind in "sUV")  # type: ignore[return-value]

    def agreement(self, matrix: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps (T,), diagonal of Eq. 5 against the final step (T, k)) for ``matrix``."""
        path = self.path / layout.AGREEMENT
        if not path.exists():
            raise RunStoreError(f"run '{self.path}' has no agreement yet (is it finished?)")
        with _open(path) as f:
            steps = _get(f, layout.AGREEMENT_STEPS, path)
            return steps, _get(f, layout.agreement_key(matrix), path)

    def agreement_diagonals(self) -> tuple[list[int], dict[str, np.ndarray]] | None:
        """(steps, matrix -> (T, k) diagonal) from agreement.safetensors; None if absent."""
        path = self.path / layout.AGREEMENT
        if not path.exists():
            return None
        with _open(path) as f:
            names = layout.agreement_matrices(list(f.keys()))
            steps = _get(f, layout.AGREEMENT_STEPS, path).tolist()
            return steps, {n: _get(f, layout.agreement_key(n), path) for n in names}

    def artifacts(self) -> dict[str, np.ndarray]:
        """Tensors the task kept from the final model (e.g. ``samples``); {} if none."""
        path = self.path / layout.ARTIFACTS
        if not path.exists():
            return {}
        with _open(path) as f:
            return {key: _get(f, key, path) for key in f.keys()}

    @property
    def checkpoint_steps(self) -> list[int]:
        return [layout.step_of(p) for p in layout.step_files(self.path / layout.CHECKPOINTS)]

    def checkpoint(self, step: int) -> dict[str, torch.Tensor]:
        """The model's state dict saved at ``step``."""
        path = layout.step_file(self.path / layout.CHECKPOINTS, step)
        if not path.exists():
            raise RunStoreError(f"run '{self.path}' has no checkpoint at step {step}")
        with _open(path, "pt") as f:
            return {key: f.get_tensor(key) for key in f.keys()}

    def gaps(self) -> list[str]:
        """One line per inconsistency: a step in the metrics without its spectra file or
        the other way round, agreement rows without their file, a stale agreement file."""
        has_rows = bool((self.metrics["metric"] == layout.AGREEMENT_METRIC).any())
        return self.record_gaps() + self._agreement_gaps(has_rows)

    def record_gaps(self) -> list[str]:
        """The gaps between the metrics and the spectra files (agreement aside)."""
        spectra = set(self.steps.tolist())
        table = self.metrics
        agreement_rows = table["metric"] == layout.AGREEMENT_METRIC
        listed = set(table.loc[~agreement_rows, "step"].tolist())
        metrics_path = self.path / layout.METRICS
        found = [
            f"'{self._spectra_path(s)}' is missing ('{metrics_path}' has step {s})"
            for s in sorted(listed - spectra)
        ]
        return found + [
            f"'{metrics_path}' has no rows for step {s} ('{self._spectra_path(s)}' exists)"
            for s in sorted(spectra - listed)
        ]

    def check(self) -> None:
        """RunStoreError naming the first gap (see ``gaps``); nothing if consistent."""
        found = self.gaps()
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise RunStoreError(f"run '{self.path}' is inconsistent: {found[0]}{more}")

    def _agreement_gaps(self, has_rows: bool) -> list[str]:
        path = self.path / layout.AGREEMENT
        if not path.exists():
            return [f"'{path}' is missing (the metrics hold agreement rows)"] if has_rows else []
        with _open(path) as f:
            steps = _get(f, layout.AGREEMENT_STEPS, path).tolist()
        if not self.agreement_covers(steps):
            spectra = self.steps.tolist()
            return [f"'{path}' covers {len(steps)} steps but the run recorded {len(spectra)}"]
        return []

    def agreement_covers(self, steps: list[int]) -> bool:
        """Whether an agreement over ``steps`` is current: recorded steps in order, the last
        recorded one and every step that still holds vectors among them. All recorded
        steps while every step holds vectors; after the finish has thinned the vectors,
        still all of them, or (an agreement redone since) the steps that kept vectors."""
        recorded = self.steps.tolist()
        if not recorded:
            return not steps
        if steps != sorted(set(steps)) or not set(steps) <= set(recorded):
            return False
        return recorded[-1] in steps and set(self.vector_steps) <= set(steps)

    def _spectra_path(self, step: int) -> Path:
        return layout.step_file(self.path / layout.SPECTRA, step)

    def _spectra_file(self, step: int) -> Path:
        path = self._spectra_path(step)
        if not path.exists():
            raise RunStoreError(f"run '{self.path}' recorded no spectra at step {step}")
        return path

    @property
    def state_steps(self) -> list[int]:
        """Steps at which a full training state was kept (``train.state_at``)."""
        return layout.state_steps(self.path / layout.STATES)

    def state(self, step: int) -> dict:
        """The full training state (model, optimizer, scheduler, RNG) kept at ``step``."""
        path = layout.state_file(self.path / layout.STATES, step)
        if not path.exists():
            kept = ", ".join(map(str, self.state_steps)) or "none"
            raise RunStoreError(
                f"run '{self.path}' kept no training state at step {step} (kept: {kept})"
            )
        return load_torch(path)

    def analysis(self, name: str, table: str | None = None) -> pd.DataFrame:
        """The table an analysis wrote (``analyses/<name>/<table>.parquet``)."""
        path = layout.analysis_table(self.path, name, table or name)
        if not path.exists():
            raise RunStoreError(f"run '{self.path}' has no '{name}' analysis yet ({path.name})")
        return read_table(path, (), ())  # compacted when the analysis ends

    @property
    def _spectra_files(self) -> list[Path]:
        return layout.step_files(self.path / layout.SPECTRA)

    def _meta(self, key: str) -> list[str]:
        files = self._spectra_files
        if not files:
            return []
        with _open(files[-1]) as f:
            try:
                names = json.loads((f.metadata() or {}).get(key, "[]"))
            except json.JSONDecodeError as err:
                raise RunStoreError(f"'{files[-1]}' holds malformed '{key}': {err}") from err
        return names

    def _series(self, key: str, label: str) -> tuple[np.ndarray, np.ndarray]:
        steps, rows = [], []
        for path in self._spectra_files:
            with _open(path) as f:
                if key in f.keys():
                    steps.append(layout.step_of(path))
                    rows.append(_get(f, key, path).astype(np.float32))
        if not rows:
            raise RunStoreError(f"run '{self.path}' recorded nothing for '{label}'")
        return np.array(steps, dtype=np.int64), np.stack(rows)

    def _all_series(self, prefix: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        steps: dict[str, list[int]] = {}
        rows: dict[str, list[np.ndarray]] = {}
        for path in self._spectra_files:
            with _open(path) as f:
                for key in f.keys():
                    if key.startswith(prefix):
                        name = key.removeprefix(prefix)
                        steps.setdefault(name, []).append(layout.step_of(path))
                        rows.setdefault(name, []).append(_get(f, key, path).astype(np.float32))
        return {n: (np.array(steps[n], dtype=np.int64), np.stack(rows[n])) for n in steps}


def load_torch(path: Path) -> dict:
    """A torch file of tensors and plain types; never unpickles arbitrary objects."""
    loaded = load_torch_file(path)
    if not isinstance(loaded, dict):
        raise RunStoreError(f"'{path}' holds a {type(loaded).__name__}, not a dict")
    return loaded


def _open(path: Path, framework: str = "numpy") -> Any:
    try:
        return safe_open(path, framework=framework)
    except (SafetensorError, OSError) as err:
        raise RunStoreError(f"'{path}' is not a readable safetensors file: {err}") from err


def _geometry(f: Any, matrix: str) -> tuple[tuple[int, int], int]:
    (m, k), (n, _) = (f.get_slice(key).get_shape() for key in _vector_keys(matrix))
    return (int(m), int(n)), int(k)


def _vector_keys(matrix: str) -> tuple[str, str]:
    return layout.left_key(matrix), layout.right_key(matrix)


def _get(f: Any, key: str, path: Path) -> np.ndarray:
    try:  # not `key in f.keys()`: a list of every key per read is quadratic in a big run
        sliced = f.get_slice(key)
    except SafetensorError:
        raise RunStoreError(f"'{path}' holds no '{key}'") from None
    try:
        if sliced.get_dtype() == "BF16":  # numpy has no bfloat16: through torch
            with _open(path, "pt") as g:
                return np.asarray(g.get_tensor(key).float().numpy())
        return np.asarray(f.get_tensor(key))
    except (SafetensorError, OSError, RuntimeError, TypeError) as err:
        raise RunStoreError(f"'{path}' is malformed at '{key}': {err}") from err
