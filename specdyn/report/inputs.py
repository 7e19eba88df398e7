"""Which runs a report shows: run folders, sweep folders, or folders of runs.

A sweep folder holds ``sweep.json`` naming its run folders; any folder whose subfolders
are runs is read the same way. Runs are opened only through :func:`specdyn.open_run`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from specdyn.errors import ConfigError, RunStoreError
from specdyn.store import layout
from specdyn.store.reader import Run, open_run
from specdyn.tasks.registry import check_run_task


def open_runs(paths: Sequence[Path], allow_mixed: bool = False) -> list[Run]:
    """Every run named by ``paths`` (runs or sweeps), in order, each once."""
    runs: list[Run] = []
    seen: set[Path] = set()
    for path in paths:
        for run_dir in run_folders(path):
            if run_dir.resolve() not in seen:
                seen.add(run_dir.resolve())
                run = open_run(run_dir, verify=True)  # every file against its checksum
                check_run_task(run.config, str(run_dir / layout.CONFIG))
                runs.append(run)
    if not allow_mixed:
        check_one_task(runs)
    return runs


def run_folders(path: Path) -> list[Path]:
    """``path`` itself if it is a run, else the runs its sweep.json or subfolders name."""
    if not path.is_dir():
        raise RunStoreError(f"'{path}' is not a run or sweep folder (no such folder)")
    if _is_run(path):
        return [path]
    if (path / layout.SWEEP).is_file():
        listed = _listed_runs(path)
        if listed:
            return listed
    found = sorted(p for p in path.iterdir() if p.is_dir() and _is_run(p))
    if not found:
        raise RunStoreError(
            f"'{path}' is not a run or sweep folder (no {layout.CONFIG}, no {layout.SWEEP} "
            "naming runs, no run subfolders)"
        )
    return found


def check_one_task(runs: Sequence[Run]) -> None:
    """ConfigError when the runs belong to different tasks."""
    tasks: dict[str, str] = {}
    for run in runs:
        tasks.setdefault(str(run.config.get("task")), run.path.name)
    if len(tasks) > 1:
        named = ", ".join(f"{task} ({name})" for task, name in tasks.items())
        raise ConfigError(
            f"runs of different tasks: {named}; pass --allow-mixed to report them together"
        )


def _is_run(path: Path) -> bool:
    try:
        return (path / layout.CONFIG).is_file()
    except OSError:  # a name too long for the file system, say
        return False


def _listed_runs(sweep: Path) -> list[Path]:
    """The run folders that sweep.json names, in the order it names them."""
    try:
        listing = json.loads((sweep / layout.SWEEP).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunStoreError(f"'{sweep / layout.SWEEP}' is not valid JSON: {err}") from err
    runs: list[Path] = []
    for text in _strings(listing):
        candidate = Path(text) if Path(text).is_absolute() else sweep / text
        if text and "\0" not in text and _is_run(candidate) and candidate not in runs:
            runs.append(candidate)
    return runs


def _strings(value: object) -> Iterator[str]:
    """Every string inside a JSON value, depth first."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
