"""``run_sweep``: validate, lay out the sweep folder, run what is left, record every state.

Everything that can be checked is checked before the first point starts: the backend, the
grid keys and values, the seeds. Points already finished are skipped; points a killed
sweep left half done are resumed by the run store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from specdyn.sweep.backends import check_backend, run_points
from specdyn.sweep.manifest import merge_previous, new_manifest, set_state, write_manifest
from specdyn.sweep.spec import Point, SweepSpec, axes, base_config, expand, sweep_name
from specdyn.sweep.worker import DONE, FAILED, RUNNING, Outcome, is_finished


@dataclass(frozen=True)
class SweepResult:
    """The sweep folder, its points and the final sweep.json content."""

    path: Path
    points: list[Point]
    manifest: dict[str, Any]

    @property
    def failed(self) -> list[int]:
        return [i for i, p in enumerate(self.manifest["points"]) if p["state"] != DONE]


def plan(spec: SweepSpec, out: Path) -> tuple[Path, list[Point], dict[str, Any]]:
    """The sweep folder, its points and a manifest holding any earlier states; no writes."""
    check_backend(spec.backend, spec.address)
    grid = axes(spec)
    sweep_dir = Path(out) / sweep_name(spec)
    points = expand(spec, sweep_dir)
    manifest = new_manifest(spec, grid, points, base_config(spec).preset)
    merge_previous(manifest, sweep_dir)
    return sweep_dir, points, manifest


def run_sweep(
    spec: SweepSpec,
    out: Path,
    progress: bool = True,
    device: str = "auto",
    announce: Callable[[Path], None] | None = None,
) -> SweepResult:
    """Run every point of ``spec`` not yet finished into ``out/sweep-...``."""
    sweep_dir, points, manifest = plan(spec, out)
    if announce is not None:
        announce(sweep_dir)
    todo = []
    for index, point in enumerate(points):
        entry = manifest["points"][index]
        if entry["state"] == DONE and is_finished(point.run_dir):
            continue
        entry.update(state="pending", error="")
        todo.append(index)
    write_manifest(sweep_dir, manifest)
    bar = tqdm(
        total=len(points), initial=len(points) - len(todo), unit="point", disable=not progress
    )
    states = {i: DONE for i in range(len(points)) if i not in todo}

    def update(position: int, event: str | Outcome) -> None:
        index = todo[position]
        set_state(manifest, index, event)
        write_manifest(sweep_dir, manifest)
        states[index] = event if isinstance(event, str) else event.state
        if not isinstance(event, str):
            bar.update(1)
        counts = {s: list(states.values()).count(s) for s in (DONE, RUNNING, FAILED)}
        bar.set_postfix(counts, refresh=True)

    try:
        run_points(
            [(points[i].cfg, points[i].run_dir) for i in todo],
            spec.backend,
            spec.workers,
            spec.address,
            device,
            update,
            spec.threads,
        )
    finally:
        bar.close()
    return SweepResult(sweep_dir, points, manifest)


def summary_lines(result: SweepResult) -> list[str]:
    """One line per point: state, seconds, grid values and seed, run folder, error."""
    lines = []
    for point, entry in zip(result.points, result.manifest["points"], strict=True):
        seconds = entry.get("seconds")
        took = f"{seconds:7.1f}s" if isinstance(seconds, (int, float)) else "       -"
        error = f"  {entry['error']}" if entry["error"] else ""
        lines.append(f"{entry['state']:>7} {took}  {point.label}  {entry['run']}{error}")
    return lines
