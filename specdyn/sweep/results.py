"""Reading a sweep folder: ``specdyn.open_sweep(path)``.

Tables are the runs' own tidy tables with the grid keys and ``seed`` as extra columns, so
one ``groupby`` answers any question across points::

    sweep = specdyn.open_sweep("sweeps/sweep-grokking-cpu-1a2b3c4d")
    sweep.history                      # weight_decay, seed, step, split, loss, error
    sweep.metrics                      # weight_decay, seed, step, matrix, metric, value
    sweep.mean_std("history")          # weight_decay, step, split, loss_mean, loss_std, ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from specdyn.store.reader import Run, open_run
from specdyn.sweep.manifest import read_manifest
from specdyn.sweep.worker import DONE, is_finished


def open_sweep(path: str | Path) -> Sweep:
    """Open the sweep folder at ``path``; RunStoreError if it holds no sweep.json."""
    return Sweep(Path(path))


class Sweep:
    """Read access to a sweep folder: its points, their runs, and tidy tables of all."""

    def __init__(self, path: Path):
        self.path = path
        self.manifest: dict[str, Any] = read_manifest(path)

    def __repr__(self) -> str:
        return f"Sweep('{self.path}')"

    @property
    def task(self) -> str:
        return self.manifest["task"]

    @property
    def grid_keys(self) -> list[str]:
        """The swept keys as written on the command line, in grid order."""
        return [axis["key"] for axis in self.manifest["grid"]]

    def grid_values(self, key: str) -> list[Any]:
        """The values of ``key``, in the order given."""
        return next(a["values"] for a in self.manifest["grid"] if a["key"] == key)

    @property
    def points(self) -> pd.DataFrame:
        """One row per point: grid keys, seed, run (folder name), state, error, seconds,
        cpu_seconds."""
        rows = [
            {**p["values"], "seed": p["seed"], **{k: p.get(k) for k in _POINT_FIELDS}}
            for p in self.manifest["points"]
        ]
        return pd.DataFrame(rows, columns=[*self.grid_keys, "seed", *_POINT_FIELDS])

    def runs(self, finished: bool = True) -> Iterator[tuple[dict[str, Any], int, Run]]:
        """(grid values, seed, Run) of every point whose run finished (or, with
        ``finished=False``, every point whose run folder exists)."""
        for p in self.manifest["points"]:
            run_dir = self.path / p["run"]
            ready = p["state"] == DONE and is_finished(run_dir) if finished else run_dir.is_dir()
            if ready:
                yield p["values"], p["seed"], open_run(run_dir)

    @cached_property
    def history(self) -> pd.DataFrame:
        """Every finished point's history, with the grid keys and seed as columns."""
        return self._stack(lambda run: run.history)

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """Every finished point's metrics, with the grid keys and seed as columns."""
        return self._stack(lambda run: run.metrics)

    def mean_std(self, table: str | pd.DataFrame = "history") -> pd.DataFrame:
        """Mean and standard deviation over seeds of a tidy table (``"history"``,
        ``"metrics"`` or a DataFrame with a ``seed`` column): one row per grid point and key
        (step, split / matrix, metric), columns ``<value>_mean``, ``<value>_std`` (sample
        std, 0 with one seed) and ``seeds`` (how many seeds entered the row)."""
        frame = getattr(self, table) if isinstance(table, str) else table
        keys = [*self.grid_keys, *(c for c in frame.columns if c in _KEY_COLUMNS)]
        return mean_over_seeds(frame, keys)

    def _stack(self, read: Callable[[Run], pd.DataFrame]) -> pd.DataFrame:
        parts = []
        for values, seed, run in self.runs():
            frame = read(run).copy()
            for column, value in reversed([*values.items(), ("seed", seed)]):
                frame.insert(0, column, value)
            parts.append(frame)
        if not parts:
            return pd.DataFrame(columns=[*self.grid_keys, "seed"])
        return pd.concat(parts, ignore_index=True)


_POINT_FIELDS = ("run", "state", "error", "seconds", "cpu_seconds")
_KEY_COLUMNS = ("step", "split", "matrix", "metric")


def mean_over_seeds(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Group ``frame`` by ``keys``; mean and std over seeds of every other numeric column."""
    values = [
        c
        for c in frame.columns
        if c not in keys and c != "seed" and pd.api.types.is_numeric_dtype(frame[c])
    ]
    grouped = frame.groupby(keys, sort=False, dropna=False)
    out = grouped[values].agg(["mean", "std"])
    out.columns = [f"{v}_{stat}" for v, stat in out.columns]
    for v in values:
        out[f"{v}_std"] = out[f"{v}_std"].fillna(0.0)
    out["seeds"] = grouped["seed"].nunique()
    return out.reset_index()
