"""Every on-disk name of a run directory, in one place: files, folders and the tensor keys
inside the safetensors files. Nothing outside the store spells them out.

RUN/                              named by ``run_name(task, preset, hash)``
  config.json                     resolved config, seed, library versions, data source
  history.parquet                 step, split, loss, error
  metrics.parquet                 step, matrix, metric, value
  parts/metrics.00000012.parquet  rows flushed since the table was last compacted (a live
                                  run's tables are the file plus its parts, in order)
  spectra/step_00000100.safetensors   s/<matrix>, U/<matrix>, V/<matrix>, align/<pair>
                                  (U and V only at the steps that keep vectors once the
                                  run has finished: record.vector_points)
  agreement.safetensors           steps, diag/<matrix> -> (steps, k) agreement diagonal
  artifacts.safetensors           tensors kept from the final model (e.g. samples)
  checkpoints/step_00000100.safetensors   weights only
  state.pt                        resume state (tensors and plain types only)
  states/step_00000100.pt         full training states kept for branches (train.state_at)
  figures/                        PNGs drawn from the files above
  .lock                           held (flock) by the one process writing the run
  .tmp-*                          a write in progress; removed when the run is reopened

  analyses/<name>/<table>.parquet results of an analysis of this run (specdyn.analyses)
  branches/<kind>-<hash>/         a run branched from one of states/, with branch.json
"""

from __future__ import annotations

import re
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
LOCK = ".lock"
TMP_PREFIX = ".tmp-"
PARTS = "parts"

STATES = "states"
ANALYSES = "analyses"
BRANCHES = "branches"
BRANCH = "branch.json"  # where a branch starts and what it changes
SWEEP = "sweep.json"  # a sweep folder's manifest: its points and their run folders
DESIGN = "design.json"  # an LMC design folder's manifest: its trunks and branches
MASK = "mask.safetensors"  # a lottery branch's mask
# where the run writer's temporaries live
WRITER_FOLDERS = (".", SPECTRA, CHECKPOINTS, PARTS, STATES)

HISTORY_COLUMNS = ("step", "split", "loss", "error")
METRICS_COLUMNS = ("step", "matrix", "metric", "value")
HISTORY_KEY = ("step", "split")  # a row's unique key: a later write of it replaces it
METRICS_KEY = ("step", "matrix", "metric")
AGREEMENT_METRIC = "agreement"  # metrics rows written by the finish step
# the scalar metrics the recorder writes for every matrix (specdyn.record.recorder.SCALARS)
SCALAR_METRICS = (
    "effective_rank",
    "normalized_effective_rank",
    "spectral_norm",
    "frobenius_norm",
    "stable_rank",
)

# metadata key of every safetensors file of a run: the SHA-256 of its data (store.verify)
CHECKSUM = "sha256"

# every metric specdyn itself records (recorder, finish, ``--metrics all``); any other
# metric in a run's table is user-defined (specdyn.record.custom), a vector one as name[i]
# the single-checkpoint diagnostics of ``--metrics all`` (specdyn.record.diagnostics)
DIAGNOSTIC_METRICS = (
    "alpha",
    "alpha_weighted",
    "log_spectral_norm",
    "log_norm",
    "log_alpha_norm",
    "mp_outliers",
    "num_spikes",
    "rand_distance",
)
BUILT_IN_METRICS = (*SCALAR_METRICS, "alignment", AGREEMENT_METRIC, *DIAGNOSTIC_METRICS)
_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


def user_metrics(names: list[str], indices: int = 3) -> list[str]:
    """The user-defined metrics among ``names``, in order; of a vector metric (rows
    ``name[i]``) its first ``indices`` entries only."""
    out = []
    for name in names:
        index = _INDEX.match(name)
        base = index.group(1) if index else name
        if base in BUILT_IN_METRICS or (index and int(index.group(2)) >= indices):
            continue
        out.append(name)
    return out


# tensor keys: a spectra file holds values, vectors and alignment diagonals per step
AGREEMENT_STEPS = "steps"


def run_name(task: str, preset: str, hash_: str) -> str:
    """A run folder's name: what ``specdyn run`` and a sweep's points are called."""
    return f"{task}-{preset}-{hash_}"


def branch_folder(run_path: Path, label: str, hash_: str) -> Path:
    """RUN/branches/<label>-<hash>: a branch of the run at ``run_path``."""
    return run_path / BRANCHES / f"{label}-{hash_}"


def design_name(task: str, preset: str, hash_: str) -> str:
    """A linear-mode-connectivity design folder's name (``specdyn lmc``)."""
    return f"lmc-{task}-{preset}-{hash_}"


def trunk_folder(design_path: Path, seed: int) -> Path:
    """DESIGN/trunk-<seed>: one trunk run of a linear-mode-connectivity design."""
    return design_path / f"trunk-{seed}"


def trunk_folders(design_path: Path) -> list[Path]:
    """Every trunk-<seed> folder of a design, in name order."""
    return sorted(design_path.glob("trunk-*"))


VALUES_PREFIX, ALIGNMENT_PREFIX = "s/", "align/"  # tensor keys of a spectra file


def values_key(matrix: str) -> str:
    return f"{VALUES_PREFIX}{matrix}"


def left_key(matrix: str) -> str:
    return f"U/{matrix}"


def right_key(matrix: str) -> str:
    return f"V/{matrix}"


def alignment_key(pair: str) -> str:
    return f"{ALIGNMENT_PREFIX}{pair}"


def agreement_key(matrix: str) -> str:
    return f"diag/{matrix}"


def vector_matrices(keys: list[str]) -> list[str]:
    """The matrices whose left vectors are among ``keys`` (tensor keys of a spectra file)."""
    return [key[2:] for key in keys if key.startswith("U/")]


def is_vector_key(key: str) -> bool:
    return key.startswith(("U/", "V/"))


def agreement_matrices(keys: list[str]) -> list[str]:
    return [key[5:] for key in keys if key.startswith("diag/")]


def part_file(table: Path, number: int) -> Path:
    """The ``number``-th part of the table whose own file is ``table``."""
    return table.parent / PARTS / f"{table.stem}.{number:08d}.parquet"


def part_number(path: Path) -> int:
    return int(path.name.split(".")[-2])


def part_files(table: Path) -> list[Path]:
    """The parts of ``table``, in write order; none when there are none."""
    folder = table.parent / PARTS
    if not folder.is_dir():
        return []
    name = re.compile(re.escape(table.stem) + r"\.\d{8}\.parquet")
    return sorted((p for p in folder.iterdir() if name.fullmatch(p.name)), key=part_number)


def step_file(folder: Path, step: int) -> Path:
    return folder / f"step_{step:08d}.safetensors"


def step_of(path: Path) -> int:
    """The step encoded in a ``step_XXXXXXXX.safetensors`` name."""
    return int(path.stem.removeprefix("step_"))


def step_files(folder: Path) -> list[Path]:
    """The step files of ``folder``, by step; none when the folder is absent."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if _STEP_NAME.fullmatch(p.name)), key=step_of)


_STEP_NAME = re.compile(r"step_\d+\.safetensors")
_STATE_NAME = re.compile(r"step_\d+\.pt")


def state_file(folder: Path, step: int) -> Path:
    return folder / f"step_{step:08d}.pt"


def state_steps(folder: Path) -> list[int]:
    """The steps of the ``step_XXXXXXXX.pt`` files of ``folder``, ascending."""
    if not folder.is_dir():
        return []
    names = (p for p in folder.iterdir() if _STATE_NAME.fullmatch(p.name))
    return sorted(int(p.stem.removeprefix("step_")) for p in names)


def analysis_table(run_path: Path, name: str, table: str) -> Path:
    return run_path / ANALYSES / name / f"{table}.parquet"
