"""Weights of one checkpoint, read tensor by tensor, whatever file format holds them.

A :class:`WeightSource` lists its tensors (name -> shape, dtype) from file headers alone and
reads one tensor at a time: safetensors files through ``safe_open`` (memory-mapped), PyTorch
files through ``torch.load(weights_only=True, mmap=True)`` (a pickle that needs more than
tensors and plain containers is refused, never executed).

Formats are told apart by content: a safetensors file starts with an 8-byte header length
and a JSON object; ``torch.save`` writes a zip archive (``PK\\x03\\x04``) or, in its legacy
format, a pickle (``\\x80`` then the protocol number).
"""

from __future__ import annotations

import json
import pickle
import re
import struct
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from torch import Tensor

from specdyn.errors import CheckpointError
from specdyn.store.files import load_failure

_DIGITS = re.compile(r"(\d+)")
_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "module", "weights")


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    dtype: str  # "F32", "BF16", "I64", ... (safetensors spelling) or a torch dtype name


def natural_key(name: str) -> list:
    """Sort key that puts 'h.2' before 'h.10' (safetensors stores keys alphabetically)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in _DIGITS.split(name)]


def sniff(path: Path) -> str:
    """'safetensors', 'torch' (zip or legacy pickle) or 'unknown', from the first bytes."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:4] == b"PK\x03\x04" or (len(head) >= 2 and head[0] == 0x80 and head[1] <= 5):
        return "torch"
    if len(head) >= 10:
        (size,) = struct.unpack("<Q", head[:8])
        if 2 <= size <= 100_000_000 and head[8:9] == b"{":
            return "safetensors"
    return "unknown"


def unreadable(path: Path) -> str:
    """Why the weights file at ``path`` is neither format (``sniff`` said 'unknown')."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
    what = f"'{path}' is neither a safetensors file nor a PyTorch state dict"
    if len(head) < 10:
        return f"{what}: it is {size} bytes long"
    (declared,) = struct.unpack("<Q", head[:8])
    if declared > min(size - 8, 100_000_000):
        return f"{what}: it declares a header of {declared:,} bytes in a file of {size:,} bytes"
    return f"{what}: its first bytes are neither a safetensors header nor a zip or pickle"


class WeightSource:
    """Tensors of one checkpoint. ``tensors``: name -> TensorInfo in storage order;
    ``get(name)``: that tensor; ``close()`` releases file handles."""

    label: str
    tensors: dict[str, TensorInfo]

    def get(self, name: str) -> Tensor:
        raise NotImplementedError

    def file_of(self, name: str) -> str:
        """The file that holds tensor ``name`` (a shard of a sharded checkpoint)."""
        return self.label

    def close(self) -> None:
        pass

    def __enter__(self) -> WeightSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SafetensorsSource(WeightSource):
    """One or several (sharded) safetensors files. Headers are checked by ``safe_open``;
    each tensor is then read with one ``readinto`` into a buffer of its own size, not
    memory-mapped, so only the tensors being decomposed are resident (mapped file pages
    count as resident memory, read ones stay in the page cache)."""

    def __init__(self, files: list[Path], label: str):
        self.label = label
        self._where: dict[str, tuple[Path, int, int]] = {}  # key -> file, start, end
        self.tensors = {}
        for path in files:
            for key, (info, start, end) in _safetensors_header(path).items():
                self.tensors[key] = info
                self._where[key] = (path, start, end)

    def file_of(self, name: str) -> str:
        return str(self._where[name][0])

    def get(self, name: str) -> Tensor:
        path, start, end = self._where[name]
        info = self.tensors[name]
        buffer = torch.empty(end - start, dtype=torch.uint8)
        try:
            with open(path, "rb") as f:
                f.seek(start)
                got = f.readinto(buffer.numpy().data)
        except OSError as err:
            raise CheckpointError(f"cannot read tensor '{name}' of '{path}': {err}") from None
        if got != end - start:
            raise CheckpointError(
                f"cannot read tensor '{name}' of '{path}': the file ends {end - start - got} "
                "bytes early (truncated?)"
            )
        return buffer.view(_TORCH_DTYPES[info.dtype]).reshape(info.shape)


_TORCH_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def _safetensors_header(path: Path) -> dict[str, tuple[TensorInfo, int, int]]:
    """key -> (info, first byte, end byte) of every tensor of one safetensors file, in
    natural key order; ``safe_open`` validates the header against the file first."""
    try:
        with safe_open(path, framework="pt") as handle:
            keys = sorted(handle.keys(), key=natural_key)
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
    except (SafetensorError, OSError, ValueError, struct.error) as err:
        raise CheckpointError(f"'{path}' is not a readable safetensors file: {err}") from None
    out = {}
    for key in keys:
        entry = header[key]
        begin, end = entry["data_offsets"]
        info = TensorInfo(tuple(entry["shape"]), str(entry["dtype"]))
        if info.dtype not in _TORCH_DTYPES:
            raise CheckpointError(f"tensor '{key}' of '{path}' has dtype {info.dtype}, not read")
        out[key] = (info, 8 + size + int(begin), 8 + size + int(end))
    return out


class StateDictSource(WeightSource):
    """A ``torch.save``d state dict (or several, for a sharded ``.bin`` index)."""

    def __init__(self, files: list[Path], label: str):
        self.label = label
        self._state: dict[str, Tensor] = {}
        for path in files:
            self._state.update(load_state_dict(path))
        self._state = _untied(self._state)
        self.tensors = {
            k: TensorInfo(tuple(v.shape), str(v.dtype).removeprefix("torch."))
            for k, v in self._state.items()
        }

    def get(self, name: str) -> Tensor:
        return self._state[name]


def load_state_dict(path: Path) -> dict[str, Tensor]:
    """torch.load(weights_only=True) of a mapping of tensors (possibly nested under
    'state_dict', 'model', ...); CheckpointError for anything else."""
    mmap = zipfile.is_zipfile(path)
    if path.name.endswith(".safetensors"):  # torch.load would take it for safetensors
        raise CheckpointError(
            f"'{path}' is named .safetensors but holds a PyTorch "
            f"{'zip archive' if mmap else 'pickle'}, not safetensors; refused (rename it .pt "
            "to load it as a state dict)"
        )
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4": the error says it
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        raise CheckpointError(f"'{path}' is refused: {load_failure(err)}") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"'{path}' is not a readable PyTorch file: {err}") from None
    state = _tensor_mapping(obj)
    if state is None:
        raise CheckpointError(
            f"'{path}' holds a {type(obj).__name__}, not a mapping of names to tensors"
        )
    return state


def _untied(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Drop later names of a tensor saved twice (tied weights), as training records it once."""
    seen: set[tuple] = set()
    out = {}
    for name, t in state.items():
        ident = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride())
        if t.numel() == 0 or ident not in seen:
            out[name] = t
        seen.add(ident)
    return out


def _tensor_mapping(obj: object) -> dict[str, Tensor] | None:
    if not isinstance(obj, Mapping):
        return None
    if obj and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        return dict(obj)
    for key in _NESTED_KEYS:
        inner = obj.get(key)
        found = _tensor_mapping(inner) if inner is not None else None
        if found:
            return found
    return None


def open_file(path: Path) -> WeightSource:
    """A single weights file of either format, told apart by content."""
    kind = sniff(path)
    if kind == "safetensors":
        return SafetensorsSource([path], str(path))
    if kind == "torch":
        return StateDictSource([path], str(path))
    raise CheckpointError(unreadable(path))


def open_index(index: Path) -> WeightSource:
    """A sharded checkpoint: ``*.index.json`` mapping tensor names to shard files."""
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
        shards = sorted({index.parent / name for name in weight_map.values()})
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(f"'{index}' is not a shard index: {err}") from None
    missing = [p.name for p in shards if not p.is_file()]
    if missing:
        raise CheckpointError(f"'{index}' names shard '{missing[0]}', which is missing")
    kinds = {sniff(p) for p in shards}
    if kinds == {"safetensors"}:
        return SafetensorsSource(shards, str(index.parent))
    if kinds == {"torch"}:
        return StateDictSource(shards, str(index.parent))
    raise CheckpointError(f"shards of '{index}' are not all safetensors or all PyTorch files")


class MemorySource(WeightSource):
    """Tensors already in memory (a live model's state dict); tied copies come once."""

    def __init__(self, state: Mapping[str, Tensor], label: str = "model"):
        self.label = label
        self._state = _untied({k: v.detach() for k, v in state.items()})
        self.tensors = {
            k: TensorInfo(tuple(v.shape), str(v.dtype).removeprefix("torch."))
            for k, v in self._state.items()
        }

    def get(self, name: str) -> Tensor:
        return self._state[name]
