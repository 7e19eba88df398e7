"""What a run's config.json holds beyond the config: versions, device, data source."""

from __future__ import annotations

import json
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

from specdyn.config.overrides import from_dict, run_hash, to_dict
from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError, RunStoreError
from specdyn.store import layout
from specdyn.store.reader import has_records, read_config
from specdyn.tasks.base import Experiment

PACKAGES = ("specdyn", "torch", "numpy", "pandas", "pyarrow", "safetensors", "matplotlib")


def describe(cfg: RunConfig, exp: Experiment, device: torch.device) -> dict:
    """The resolved config plus what is needed to trust and redraw the run."""
    return to_dict(cfg) | {
        "hash": run_hash(cfg),
        "data_source": exp.data_source,
        "environment": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "device": str(device),
            "precision": "bfloat16 autocast"
            if cfg.train.bf16 and device.type == "cuda"
            else "float32",
            "versions": {name: _version(name) for name in PACKAGES},
            "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    }


def check_same_config(run_dir: Path, cfg: RunConfig) -> None:
    """Refuse to resume a run folder that holds a different config, or run files without
    a config: which config made them cannot be told, so they are left untouched. A field
    added to the config since the run was made counts at its default, as in the run hash."""
    saved = read_config(run_dir, missing_ok=True)
    if saved is None:
        if has_records(run_dir):
            raise RunStoreError(
                f"'{run_dir}' holds run files but no {layout.CONFIG}, so the config that made "
                f"them is unknown; restore {layout.CONFIG} or remove the folder to start over"
            )
        return
    config, saved = _plain(to_dict(cfg)), _plain(_with_defaults(saved, cfg))
    differs = [k for k, v in config.items() if v != saved.get(k)]
    if differs:
        raise RunStoreError(
            f"'{run_dir}' holds a run with a different config ({', '.join(differs)})"
        )


def _with_defaults(saved: dict, cfg: RunConfig) -> dict:
    """``saved`` with the fields it lacks at their defaults; as is when it does not parse."""
    try:
        return saved | to_dict(from_dict(saved, cfg))
    except (ConfigError, KeyError, TypeError, ValueError):
        return saved


def _plain(data: dict) -> dict:
    return json.loads(json.dumps(data))


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"
