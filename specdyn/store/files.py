"""The small files of a run, read and checked: config.json (an object with the fields
below) and state.pt (tensors and plain types only; a pickled object is refused)."""

from __future__ import annotations

import json
from pathlib import Path

from specdyn.errors import RunStoreError
from specdyn.store import layout

# config.json: field -> the types it may hold; "task" is required, the others optional
CONFIG_FIELDS: dict[str, tuple[type, ...]] = {
    "task": (str, type(None)),
    "preset": (str, type(None)),
    "seed": (int, type(None)),
    "data_source": (str, type(None)),
    "figures": (dict,),
    "environment": (dict,),
    "record": (dict,),
    "recorder": (dict,),
    "train": (dict,),
}


def read_config(path: Path, missing_ok: bool = False) -> dict | None:
    """The run's config.json, checked to be an object with a ``task`` field; None when
    it is absent and ``missing_ok``."""
    config_path = path / layout.CONFIG
    if not config_path.is_file():
        if missing_ok and not config_path.exists():
            return None
        raise RunStoreError(f"'{path}' is not a specdyn run (no {layout.CONFIG})")
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunStoreError(f"'{config_path}' is not valid JSON: {err}") from err
    if not isinstance(config, dict):
        raise RunStoreError(f"'{config_path}' holds a {type(config).__name__}, not an object")
    if "task" not in config:
        raise RunStoreError(f"'{config_path}' lacks the field 'task'")
    for key, types in CONFIG_FIELDS.items():
        if key in config and not isinstance(config[key], types):
            kind = type(config[key]).__name__
            raise RunStoreError(
                f"'{config_path}' field '{key}' is a {kind}, not {types[0].__name__}"
            )
    return config


def read_state(path: Path) -> dict | None:
    """The resume state of the run at ``path`` (None if there is none), loaded with
    ``weights_only=True``: tensors and plain types only, a pickled object is refused."""
    state_path = path / layout.STATE
    if not state_path.exists():
        return None
    import torch  # only a resume reads the state: opening a run needs no torch

    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated file, foreign pickle, ...: all mean "unusable"
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RunStoreError(f"resume state '{state_path}' is unreadable: {reason}") from None
    if not isinstance(state, dict):
        raise RunStoreError(f"resume state '{state_path}' holds a {type(state).__name__}")
    return state


def has_records(path: Path) -> bool:
    """Whether ``path`` holds anything a run writes besides its config and lock."""
    names = (layout.STATE, layout.HISTORY, layout.METRICS, layout.AGREEMENT, layout.ARTIFACTS)
    if any((path / name).exists() for name in names):
        return True
    tables = (path / layout.HISTORY, path / layout.METRICS)
    if any(layout.part_files(table) for table in tables):
        return True
    return any(layout.step_files(path / f) for f in (layout.SPECTRA, layout.CHECKPOINTS))
