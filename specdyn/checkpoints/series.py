"""From paths to a series of checkpoints, each with its step, told apart by content.

A path may be:
- a weights file: safetensors or a ``torch.save``d state dict, whatever its extension;
- a folder of one model's weights: a Hugging Face model folder (``config.json`` plus
  ``model.safetensors``, sharded ``*.safetensors`` with ``model.safetensors.index.json``,
  or ``pytorch_model.bin``), or any folder holding one weights file;
- a Trainer output folder: ``checkpoint-N/`` subfolders, one checkpoint each;
- a specdyn run: ``RUN/checkpoints/step_XXXXXXXX.safetensors``;
- a folder of several weights files whose names carry steps (``step_100.pt``, ...).

A checkpoint's step comes from ``trainer_state.json`` (``global_step``), else from its name
(``checkpoint-500``, ``step_1000``, ``epoch=0-step=20``, ``iter3000``, ``1000``), else from
``--steps``; a lone checkpoint with none of them is step 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from specdyn.checkpoints.adapters import CombinedSource, read_adapter
from specdyn.checkpoints.mapping import Hints
from specdyn.checkpoints.readers import WeightSource, open_file, open_index, sniff, unreadable
from specdyn.errors import CheckpointError
from specdyn.store import layout

_STEP = re.compile(r"(?:step|checkpoint|ckpt|iter|iteration|global_step)[-_=]?(\d+)", re.I)
_TRAINER_DIR = re.compile(r"checkpoint-(\d+)$")
_NOT_WEIGHTS = re.compile(
    r"^(optimizer|scheduler|scaler|rng_state.*|training_args|trainer_state)\.(pt|pth|bin|json)$"
)
_WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint: where it is, its step (None: unknown), its weights, layout hints."""

    path: Path
    step: int | None
    weights: tuple[Path, ...]  # one file, the shard index, or shards listed by the index
    hints: Hints = Hints()
    base: Checkpoint | None = None  # a LoRA adapter's base model, whose weights it updates

    def open(self) -> WeightSource:
        first = self.weights[0]
        own = open_index(first) if first.name.endswith(".index.json") else open_file(first)
        if self.base is None:
            return own
        try:
            return CombinedSource(own, self.base.open())
        except BaseException:
            own.close()
            raise


def discover(paths: Sequence[str | Path], steps: Sequence[int] | None = None) -> list[Checkpoint]:
    """Every checkpoint under ``paths``, sorted by step; CheckpointError on bad input."""
    found = [c for p in paths for c in _expand(Path(p))]
    if steps is not None:
        if len(steps) != len(found):
            raise CheckpointError(f"--steps gives {len(steps)} steps for {len(found)} checkpoints")
        if any(s < 0 for s in steps) or list(steps) != sorted(set(steps)):
            shown = ",".join(map(str, steps))
            raise CheckpointError(
                f"--steps must be non-negative and strictly increasing (the checkpoints are "
                f"taken in order), got '{shown}'"
            )
        found = [
            Checkpoint(c.path, int(s), c.weights, c.hints)
            for c, s in zip(found, steps, strict=True)
        ]
    if len(found) == 1 and found[0].step is None:
        found = [Checkpoint(found[0].path, 0, found[0].weights, found[0].hints)]
    for c in found:
        if c.step is None:
            raise CheckpointError(
                f"cannot tell the step of '{c.path}' from trainer_state.json or its name; "
                "pass --steps"
            )
    by_step: dict[int, Checkpoint] = {}
    for c in found:
        if c.step in by_step:
            raise CheckpointError(f"'{by_step[c.step].path}' and '{c.path}' are both step {c.step}")
        by_step[c.step] = c  # type: ignore[index]
    return [by_step[s] for s in sorted(by_step)]


def step_from_name(name: str) -> int | None:
    """The step a file or folder name carries, or None."""
    stem = name.split(".")[0]
    if stem.isdigit():
        return int(stem)
    matches = _STEP.findall(name)
    return int(matches[-1]) if matches else None


def _expand(path: Path) -> list[Checkpoint]:
    if not path.exists():
        raise CheckpointError(f"'{path}' does not exist")
    if path.is_file():
        return [Checkpoint(path, _step_of(path), (path,), read_hints(path.parent))]
    run_steps = layout.step_files(path / layout.CHECKPOINTS)
    if (path / layout.CONFIG).is_file() and run_steps:  # a specdyn run
        return [Checkpoint(p, layout.step_of(p), (p,)) for p in run_steps]
    subdirs = [d for d in path.iterdir() if d.is_dir() and _TRAINER_DIR.match(d.name)]
    if subdirs:  # a Trainer output folder
        subdirs.sort(key=lambda d: int(_TRAINER_DIR.match(d.name).group(1)))  # type: ignore[union-attr]
        return [_folder(d) for d in subdirs]
    files = _weight_files(path)
    stepped = [f for f in files if step_from_name(f.name) is not None]
    if len(files) > 1 and len(stepped) == len(files) and not _is_sharded(path):
        return [Checkpoint(f, step_from_name(f.name), (f,), read_hints(path)) for f in files]
    return [_folder(path)]


def _folder(folder: Path) -> Checkpoint:
    weights = _folder_weights(folder)
    step = _step_of(folder)
    if step is None:  # e.g. a folder holding only step_500.pt
        step = step_from_name(weights[0].name)
    return Checkpoint(folder, step, weights, read_hints(folder))


def _step_of(path: Path) -> int | None:
    folder = path if path.is_dir() else path.parent
    state = folder / "trainer_state.json"
    if state.is_file():
        try:
            return int(json.loads(state.read_text())["global_step"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"'{state}' holds no global_step: {err}") from None
    step = step_from_name(path.name)
    if step is None and path.is_file() and folder != path:
        step = step_from_name(folder.name)
    return step


def _is_sharded(folder: Path) -> bool:
    return any(folder.glob("*.index.json"))


def _named_weights(folder: Path) -> list[Path]:
    """The files of ``folder`` whose names say they hold weights."""
    return [
        f
        for f in sorted(folder.iterdir())
        if f.is_file() and f.name.endswith(_WEIGHT_SUFFIXES) and not _NOT_WEIGHTS.match(f.name)
    ]


def _weight_files(folder: Path) -> list[Path]:
    """The weights files of ``folder``; CheckpointError naming the first that is named as
    one but is neither format, when no other is."""
    named = _named_weights(folder)
    files = [f for f in named if sniff(f) != "unknown"]
    if named and not files:
        raise CheckpointError(unreadable(named[0]))
    return files


def _folder_weights(folder: Path) -> tuple[Path, ...]:
    """The weights of one model in ``folder``: a shard index first, safetensors before
    PyTorch files, a single file otherwise."""
    for pattern in ("*.safetensors.index.json", "*.bin.index.json", "*.index.json"):
        indexes = sorted(folder.glob(pattern))
        if indexes:
            return (indexes[0],)
    files = _weight_files(folder)
    if not files:
        raise CheckpointError(f"'{folder}' holds no weights (no safetensors or PyTorch file)")
    safetensors = [f for f in files if sniff(f) == "safetensors"]
    chosen = safetensors or files
    if len(chosen) > 1:
        names = ", ".join(f.name for f in chosen[:3])
        raise CheckpointError(f"'{folder}' holds several weights files ({names}); name one")
    return (chosen[0],)


def read_hints(folder: Path) -> Hints:
    """model_type and head count from a Hugging Face config.json, and a LoRA adapter's
    scale from adapter_config.json, when there are."""
    adapter = read_adapter(folder)
    if adapter is not None:
        return Hints(adapter=adapter)
    path = folder / "config.json"
    if not path.is_file():
        return Hints()
    try:
        cfg = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return Hints()
    if not isinstance(cfg, dict):
        return Hints()
    heads = cfg.get("n_head", cfg.get("num_attention_heads"))
    model_type = cfg.get("model_type")
    return Hints(
        model_type if isinstance(model_type, str) else None,
        heads if isinstance(heads, int) else None,
    )
