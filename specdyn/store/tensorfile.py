"""The safetensors files of a run, written as a stream of chunks.

``file_chunks`` yields the header (dtypes, shapes, offsets, and the SHA-256 of the data in
its metadata, see :mod:`.verify`) and then each tensor's bytes as a view of the tensor's own
memory: a file is never assembled in memory. The bytes are those ``safetensors.torch.save``
writes (tensors in its order: by dtype, widest first, then by name), with the checksum added.
A non-contiguous tensor is copied once to be hashed and once to be written, one tensor at a
time, so a write never holds more than one extra tensor.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator, Mapping

import torch
from torch import Tensor

from specdyn.errors import RunStoreError
from specdyn.store import layout

# safetensors' dtype names, in the order it lays tensors out (its enum, descending)
DTYPES = {
    torch.uint64: "U64", torch.int64: "I64", torch.float64: "F64", torch.float32: "F32",
    torch.uint32: "U32", torch.int32: "I32", torch.bfloat16: "BF16", torch.float16: "F16",
    torch.uint16: "U16", torch.int16: "I16", torch.float8_e4m3fn: "F8_E4M3",
    torch.float8_e5m2: "F8_E5M2", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}  # fmt: skip
_RANK = {dtype: i for i, dtype in enumerate(DTYPES)}


def file_chunks(tensors: Mapping[str, Tensor], meta: dict | None = None) -> Iterator[memoryview]:
    """The bytes of the safetensors file holding ``tensors`` (and ``meta``), in chunks.
    A dtype the format cannot hold is refused here, before anything is written."""
    arrays = {name: _stored(name, t) for name, t in tensors.items()}
    order = sorted(arrays, key=lambda name: (_RANK[arrays[name].dtype], name))
    return _chunks(arrays, order, meta)


def _chunks(
    arrays: Mapping[str, Tensor], order: list[str], meta: dict | None
) -> Iterator[memoryview]:
    digest = hashlib.sha256()
    for name in order:
        digest.update(_bytes(arrays[name]))
    yield memoryview(_header(arrays, order, meta, digest.hexdigest()))
    for name in order:
        yield _bytes(arrays[name])


def _stored(name: str, tensor: Tensor) -> Tensor:
    if tensor.dtype not in DTYPES:
        storable = ", ".join(str(d).removeprefix("torch.") for d in DTYPES)
        raise RunStoreError(f"cannot store '{name}' of dtype {tensor.dtype}; storable: {storable}")
    return tensor.detach().cpu()


def _bytes(tensor: Tensor) -> memoryview:
    """The bytes of ``tensor`` in row-major order: a view of its memory when it is
    contiguous, else of a copy (freed once the caller drops the view)."""
    flat = tensor.reshape(-1)
    if flat.numel() and flat.stride(0) != 1:  # a copy; also for a size-1 dim of any stride
        flat = flat.new_empty(flat.shape).copy_(flat)
    return flat.view(torch.uint8).numpy().data.cast("B")


def _header(arrays: Mapping[str, Tensor], order: list[str], meta: dict | None, sha: str) -> bytes:
    """The length-prefixed JSON header, padded so the data starts 8-byte aligned."""
    entries: dict[str, object] = {}
    kept = {k: v for k, v in (meta or {}).items() if k != layout.CHECKSUM}
    entries["__metadata__"] = kept | {layout.CHECKSUM: sha}
    start = 0
    for name in order:
        tensor = arrays[name]
        end = start + tensor.numel() * tensor.element_size()
        entries[name] = {"dtype": DTYPES[tensor.dtype], "shape": list(tensor.shape),
                         "data_offsets": [start, end]}  # fmt: skip
        start = end
    text = json.dumps(entries, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text
