"""``sweep.json``: what a sweep folder holds, rewritten atomically as points change state.

"overrides" are the ``--set`` strings given; "changes" what a reproduced figure's scale
changed in the preset, as dotted path -> value.

{
  "task": ..., "preset": ..., "overrides": [...], "changes": {"train.steps": 1200, ...},
  "grid": [{"key": "weight_decay", "path": "optim.weight_decay", "values": [0.0, 0.1]}],
  "seeds": [0, 1, 2], "backend": "local", "workers": 1, "address": null,
  "points": [{"values": {"weight_decay": 0.0}, "seed": 0, "run": "grokking-cpu-1a2b3c4d",
              "state": "done", "error": "", "seconds": 61.2, "cpu_seconds": 118.0}, ...]
}
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from specdyn.errors import RunStoreError
from specdyn.store import layout
from specdyn.store.atomic import write_json
from specdyn.sweep.spec import GridAxis, Point, SweepSpec, base_changes
from specdyn.sweep.worker import PENDING, Outcome


def new_manifest(
    spec: SweepSpec, grid: tuple[GridAxis, ...], points: list[Point], preset: str
) -> dict[str, Any]:
    typed: dict[str, list[Any]] = {axis.key: [] for axis in grid}
    for point in points:
        for key, value in point.values:
            if value not in typed[key]:
                typed[key].append(value)
    return {
        "task": spec.task,
        "preset": preset,
        "overrides": list(spec.overrides),
        "changes": base_changes(spec),
        "grid": [{"key": a.key, "path": a.path, "values": typed[a.key]} for a in grid],
        "seeds": list(spec.seeds),
        "backend": spec.backend,
        "workers": spec.workers,
        "address": spec.address,
        "points": [_entry(point) for point in points],
    }


def _entry(point: Point) -> dict[str, Any]:
    return {
        "values": dict(point.values),
        "seed": point.seed,
        "run": point.run_dir.name,
        "state": PENDING,
        "error": "",
        "seconds": None,
        "cpu_seconds": None,
    }


def merge_previous(manifest: dict[str, Any], sweep_dir: Path) -> None:
    """Carry each point's state over from an earlier sweep.json in the folder, if any."""
    path = sweep_dir / layout.SWEEP
    if not path.exists():
        return
    old = {p["run"]: p for p in read_manifest(sweep_dir)["points"]}
    for point in manifest["points"]:
        if point["run"] in old:
            for key in ("state", "error", "seconds", "cpu_seconds"):
                point[key] = old[point["run"]].get(key, point[key])


def set_state(manifest: dict[str, Any], index: int, event: str | Outcome) -> None:
    entry = manifest["points"][index]
    if isinstance(event, Outcome):
        entry |= {k: v for k, v in asdict(event).items()}
    else:
        entry |= {"state": event, "error": ""}


def write_manifest(sweep_dir: Path, manifest: dict[str, Any]) -> None:
    write_json(sweep_dir / layout.SWEEP, manifest)


def read_manifest(sweep_dir: Path) -> dict[str, Any]:
    path = Path(sweep_dir) / layout.SWEEP
    if not path.is_file():
        raise RunStoreError(f"'{sweep_dir}' is not a sweep (no {layout.SWEEP})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunStoreError(f"'{path}' is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise RunStoreError(f"'{path}' lacks a list of points")
    return data
