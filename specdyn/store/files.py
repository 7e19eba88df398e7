"""The small files of a run, read and checked: config.json (an object with the fields
below) and state.pt (tensors and plain types only; a pickled object is refused)."""

from __future__ import annotations

import json
import typing
import warnings
from pathlib import Path

from specdyn.config.rules import is_type
from specdyn.config.schema import OptimConfig, RecordConfig, TrainConfig
from specdyn.errors import RunStoreError
from specdyn.store import layout
from specdyn.store.verify import torch_file_problem

# config.json: field -> the types it may hold; "task" is required, the others optional
CONFIG_FIELDS: dict[str, tuple[type, ...]] = {
    "task": (str, type(None)),
    "preset": (str, type(None)),
    "seed": (int, type(None)),
    "data_seed": (int, type(None)),
    "hash": (str,),
    "data_source": (str, type(None)),
    "model": (dict,),
    "data": (dict,),
    "optim": (dict,),
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
    _check_sections(config, config_path)
    return config


# the sections every task shares, whose fields' types config.json must keep
SECTION_TYPES = {"optim": OptimConfig, "train": TrainConfig, "record": RecordConfig}


def _check_sections(config: dict, config_path: Path) -> None:
    """RunStoreError for a field of a shared section whose value has the wrong type (a
    field unknown here, from a newer version, is left alone)."""
    for section, cls in SECTION_TYPES.items():
        values = config.get(section)
        if not isinstance(values, dict):
            continue
        hints = typing.get_type_hints(cls)
        for name, value in values.items():
            plain = _tuples(value)
            if name in hints and not is_type(plain, hints[name]):
                kind = getattr(hints[name], "__name__", str(hints[name]))
                raise RunStoreError(
                    f"'{config_path}' field '{section}.{name}' is {json.dumps(value)}, "
                    f"not of type {kind}"
                )


def _tuples(value: object) -> object:
    """JSON lists as tuples, as the config dataclasses hold them."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def read_state(path: Path) -> dict | None:
    """The resume state of the run at ``path`` (None if there is none), loaded with
    ``weights_only=True``: tensors and plain types only, a pickled object is refused."""
    state_path = path / layout.STATE
    if not state_path.exists():
        return None
    state = load_torch_file(state_path, "resume state ")
    if not isinstance(state, dict):
        raise RunStoreError(f"resume state '{state_path}' holds a {type(state).__name__}")
    return state


def load_torch_file(path: Path, what: str = "") -> object:
    """``torch.load(weights_only=True)`` of a run's torch file, its CRC-32s checked first;
    a damaged file or a pickle that needs code is one RunStoreError line (``what``: how
    the message names the file, e.g. "resume state "), torch's warnings kept quiet."""
    problem = torch_file_problem(path)
    if problem is not None:
        raise RunStoreError(f"{what}'{path}' {problem}")
    import torch  # only states are torch files: opening a run for its tables needs no torch

    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4": the error says it
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated file, foreign pickle, ...: all mean "unusable"
        raise RunStoreError(f"{what}'{path}' is unreadable: {load_failure(err)}") from None


def load_failure(err: Exception) -> str:
    """torch.load's reason in one line: what weights_only refused (torch wraps it in
    paragraphs of advice), or the error's first line."""
    text = str(err).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not text.startswith("Weights only load failed"):
        return lines[0] if lines else type(err).__name__
    detail = ""
    for index, line in enumerate(lines):
        if "WeightsUnpickler error:" in line:
            rest = line.partition("WeightsUnpickler error:")[2].strip()
            detail = rest or (lines[index + 1] if index + 1 < len(lines) else "")
            break
        if "GLOBAL" in line or "nsupported" in line:
            detail = line
            break
    detail = detail.split(" Please use")[0].strip() or "unsupported content"
    if "GLOBAL" in detail:
        return (
            "it needs code execution to load, refused without running it "
            f"(torch.load weights_only=True: {detail})"
        )
    return f"it is a pickle that torch.load weights_only=True cannot read ({detail})"


def has_records(path: Path) -> bool:
    """Whether ``path`` holds anything a run writes besides its config and lock."""
    names = (layout.STATE, layout.HISTORY, layout.METRICS, layout.AGREEMENT, layout.ARTIFACTS)
    if any((path / name).exists() for name in names):
        return True
    tables = (path / layout.HISTORY, path / layout.METRICS)
    if any(layout.part_files(table) for table in tables):
        return True
    return any(layout.step_files(path / f) for f in (layout.SPECTRA, layout.CHECKPOINTS))
