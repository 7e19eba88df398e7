"""Finished runs that another figure's sweep already holds are copied, not trained again.

A run folder is named by the hash of its config, so the same run in two sweeps has the same
name: Figure 2's weight decays 0 and 1 at cpu scale are Figure 6's weight decays 0 and 1.
Before a figure's sweep runs, each of its points that has no folder yet and that a sibling
sweep (under the same ``sweeps/``) holds finished is copied from there, with its wall and
CPU seconds, and marked done in the new ``sweep.json``; the sweep then skips it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from specdyn.errors import RunStoreError
from specdyn.store.layout import LOCK, TMP_PREFIX
from specdyn.sweep.manifest import read_manifest, write_manifest
from specdyn.sweep.runner import plan
from specdyn.sweep.spec import SweepSpec
from specdyn.sweep.worker import DONE, is_finished


def reuse_finished(spec: SweepSpec, sweeps: Path) -> list[str]:
    """Copy into ``spec``'s sweep folder every missing point that a sibling sweep finished;
    the names of the runs copied."""
    sweep_dir, points, manifest = plan(spec, sweeps)
    reused = []
    for point, entry in zip(points, manifest["points"], strict=True):
        if point.run_dir.exists():
            continue
        found = _finished_elsewhere(Path(sweeps), sweep_dir, point.run_dir.name)
        if found is None:
            continue
        source, old = found
        _copy_run(source, point.run_dir)
        times = {k: old.get(k) for k in ("seconds", "cpu_seconds")}
        entry.update(state=DONE, error="", **times)
        reused.append(point.run_dir.name)
    if reused:
        write_manifest(sweep_dir, manifest)
    return reused


def _finished_elsewhere(
    sweeps: Path, sweep_dir: Path, name: str
) -> tuple[Path, dict[str, Any]] | None:
    """(the finished run folder, its sweep.json entry) in another sweep under ``sweeps``."""
    for other in sorted(p for p in sweeps.glob("*/") if p.resolve() != sweep_dir.resolve()):
        source = other / name
        if not is_finished(source):
            continue
        try:
            entries = read_manifest(other)["points"]
        except RunStoreError:  # no readable sweep.json: not a source
            continue
        entry = next((e for e in entries if e.get("run") == name), None)
        if entry is not None and entry.get("state") == DONE:
            return source, entry
    return None


def _copy_run(source: Path, target: Path) -> None:
    """A copy of ``source`` at ``target``, appearing whole (copied aside, then renamed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f"{TMP_PREFIX}{target.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(LOCK, f"{TMP_PREFIX}*"))
    os.replace(tmp, target)
