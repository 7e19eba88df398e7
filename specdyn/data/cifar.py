"""CIFAR-10 in either of its two official layouts.

``cifar-10-batches-bin/``: ``data_batch_{1..5}.bin`` and ``test_batch.bin``, each a run of
records of 1 label byte followed by 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue,
rows top to bottom), so CHW order.

``cifar-10-batches-py/``: ``data_batch_{1..5}`` and ``test_batch``, Python pickles of a dict
with ``data`` (uint8 array (10000, 3072), same pixel order) and ``labels`` (list of int).
They are read only through a restricted unpickler that rebuilds numpy arrays and refuses
every other global, so a tampered file cannot run code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from specdyn.data.errors import DataError
from specdyn.data.safe_pickle import load_restricted

CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
_PIXELS = 3 * 32 * 32
_RECORD = 1 + _PIXELS
_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST = ("test_batch",)

Split = tuple[np.ndarray, np.ndarray]


def read_binary_batch(path: Path) -> Split:
    """Read one binary batch: images uint8 (N, 3, 32, 32), labels int64 (N,)."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % _RECORD:
        raise DataError(f"{path}: {raw.size} bytes is not a whole number of {_RECORD}-byte records")
    records = raw.reshape(-1, _RECORD)
    labels = records[:, 0].astype(np.int64)
    images = np.ascontiguousarray(records[:, 1:]).reshape(-1, 3, 32, 32)
    return images, _check_labels(labels, path)


def read_python_batch(path: Path) -> Split:
    """Read one pickled batch safely: images uint8 (N, 3, 32, 32), labels int64 (N,)."""
    batch = load_restricted(path)
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a dict, found {type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise DataError(f"{path}: 'data' is not a 2-D uint8 array")
    if data.shape[1] != _PIXELS or labels is None or len(labels) != data.shape[0]:
        raise DataError(f"{path}: 'data' {data.shape} and {_len(labels)} labels do not match")
    try:
        label_array = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: 'labels' are not integers ({e})") from e
    images = np.ascontiguousarray(data).reshape(-1, 3, 32, 32)
    return images, _check_labels(label_array, path)


def load_cifar10(root: Path | str) -> dict[str, Split]:
    """Load ``{"train": (images, labels), "test": (images, labels)}`` from under ``root``.

    ``root`` may hold ``cifar-10-batches-bin/`` or ``cifar-10-batches-py/`` (the binary
    layout wins when both are there), or be one of those folders itself. Images are uint8
    (N, 3, 32, 32); labels int64 (N,): 50,000 train and 10,000 test for the full set.
    """
    folder, binary = _find_layout(Path(root))
    suffix, read = (".bin", read_binary_batch) if binary else ("", read_python_batch)
    splits = {}
    for split, names in (("train", _TRAIN), ("test", _TEST)):
        images, labels = zip(*(read(folder / f"{name}{suffix}") for name in names), strict=True)
        splits[split] = (np.concatenate(images), np.concatenate(labels))
    return splits


def _find_layout(root: Path) -> tuple[Path, bool]:
    """The batches folder under ``root`` and whether it is the binary layout."""
    for folder in (root / "cifar-10-batches-bin", root / "cifar-10-batches-py", root):
        if (folder / "data_batch_1.bin").is_file():
            return folder, True
        if (folder / "data_batch_1").is_file():
            return folder, False
    raise DataError(f"{root}: no cifar-10-batches-bin/ or cifar-10-batches-py/ folder")


def _check_labels(labels: np.ndarray, path: Path) -> np.ndarray:
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES))):
        raise DataError(f"{path}: labels outside 0..{len(CLASSES) - 1}")
    return labels


def _len(labels: object) -> str:
    try:
        return str(len(labels))  # type: ignore[arg-type]
    except TypeError:
        return "no"


__all__ = ["CLASSES", "load_cifar10", "read_binary_batch", "read_python_batch"]
