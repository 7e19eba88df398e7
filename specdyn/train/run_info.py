"""What a run's config.json holds beyond the config: versions, device, data source."""

from __future__ import annotations

import json
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

from specdyn.config.overrides import run_hash, to_dict
from specdyn.config.schema import RunConfig
from specdyn.errors import RunStoreError
from specdyn.store import layout
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


def check_same_config(run_dir: Path, config: dict) -> None:
    """Refuse to resume a run folder that holds a different config."""
    path = run_dir / layout.CONFIG
    if not path.exists():
        return
    try:
        saved = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RunStoreError(f"'{path}' is not valid JSON: {err}") from err
    differs = [k for k, v in config.items() if json.loads(json.dumps(v)) != saved.get(k)]
    if differs:
        raise RunStoreError(
            f"'{run_dir}' holds a run with a different config ({', '.join(differs)})"
        )


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"
