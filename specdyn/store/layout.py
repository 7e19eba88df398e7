"""Every on-disk name of a run directory, in one place.

RUN/
  config.json                     resolved config, seed, library versions, data source
  history.parquet                 step, split, loss, error
  metrics.parquet                 step, matrix, metric, value
  spectra/step_00000100.safetensors   s/<matrix>, U/<matrix>, V/<matrix>, align/<pair>
  agreement.safetensors           steps, <matrix> -> (steps, k) agreement diagonal
  artifacts.safetensors           tensors kept from the final model (e.g. samples)
  checkpoints/step_00000100.safetensors   weights only
  state.pt                        resume state (tensors and plain types only)
  states/step_00000100.pt         full training states kept for branches (train.state_at)
  figures/                        PNGs drawn from the files above
  analyses/<name>/<table>.parquet results of an analysis of this run (specdyn.analyses)
  branches/<kind>-<hash>/         a run branched from one of states/, with branch.json
"""

from __future__ import annotations

from pathlib import Path

CONFIG = "config.json"
HISTORY = "history.parquet"
METRICS = "metrics.parquet"
SPECTRA = "spectra"
AGREEMENT = "agreement.safetensors"
ARTIFACTS = "artifacts.safetensors"
CHECKPOINTS = "checkpoints"
STATE = "state.pt"
FIGURES = "figures"
STATES = "states"
ANALYSES = "analyses"
BRANCHES = "branches"
BRANCH = "branch.json"  # where a branch starts and what it changes
MASK = "mask.safetensors"  # a lottery branch's mask

HISTORY_COLUMNS = ("step", "split", "loss", "error")
METRICS_COLUMNS = ("step", "matrix", "metric", "value")


def step_file(folder: Path, step: int) -> Path:
    return folder / f"step_{step:08d}.safetensors"


def step_of(path: Path) -> int:
    """The step encoded in a ``step_XXXXXXXX.safetensors`` name."""
    return int(path.stem.removeprefix("step_"))


def step_files(folder: Path) -> list[Path]:
    """The step files of ``folder``, by step; none when the folder is absent."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob("step_*.safetensors"), key=step_of)


def state_file(folder: Path, step: int) -> Path:
    return folder / f"step_{step:08d}.pt"


def state_steps(folder: Path) -> list[int]:
    """The steps of the ``step_XXXXXXXX.pt`` files of ``folder``, ascending."""
    if not folder.is_dir():
        return []
    return sorted(int(p.stem.removeprefix("step_")) for p in folder.glob("step_*.pt"))


def analysis_table(run_path: Path, name: str, table: str) -> Path:
    return run_path / ANALYSES / name / f"{table}.parquet"
