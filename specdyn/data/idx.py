"""IDX files (MNIST, Fashion-MNIST), gzipped or not.

Layout, all big-endian: two zero bytes, a type code, the number of dimensions ``d``, then
``d`` uint32 sizes, then the values in C order.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from specdyn.data.errors import DataError

# IDX type code -> big-endian numpy dtype
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"

Split = tuple[np.ndarray, np.ndarray]


def read_idx(path: Path | str) -> np.ndarray:
    """Read one IDX file (gzip detected from its first bytes) into a native-endian array.

    Shape is the file's own, e.g. (60000, 28, 28) uint8 for MNIST images, (60000,) for labels.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtype, ndim = DTYPES.get(raw[2]), raw[3]
    if dtype is None:
        raise DataError(f"{path}: unknown IDX type code 0x{raw[2]:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, expected {expected} for shape {shape}")
    values = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def load_mnist(root: Path | str) -> dict[str, Split]:
    """Load MNIST-format IDX files from ``root``: ``{"train": ..., "test": ...}``.

    Looks for ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-...``, each
    with or without ``.gz``. Images are uint8 (N, 28, 28); labels int64 (N,).
    """
    root = Path(root)
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(_find(root, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_find(root, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            shapes = f"images {images.shape} and labels {labels.shape}"
            raise DataError(f"{root}: {prefix} {shapes} do not match")
        splits[split] = (images, labels)
    return splits


def _find(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise DataError(f"{root}: no {stem}[.gz]")


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip data ({e})") from e
