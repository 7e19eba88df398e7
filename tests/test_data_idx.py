"""IDX files written with struct, raw and gzipped."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from specdyn.data import DataError, load_mnist, read_idx


def _idx(array: np.ndarray, code: int) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_uint8(tmp_path, gz):
    images = np.arange(2 * 4 * 5, dtype=np.uint8).reshape(2, 4, 5)
    data = _idx(images, 0x08)
    path = tmp_path / ("x.gz" if gz else "x")
    path.write_bytes(gzip.compress(data) if gz else data)
    got = read_idx(path)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, images)


@pytest.mark.parametrize(
    ("code", "dtype"), [(0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32)]
)
def test_read_idx_wider_types_are_big_endian(tmp_path, code, dtype):
    values = np.array([1, -2, 300], dtype=dtype)
    (tmp_path / "x").write_bytes(_idx(values, code))
    got = read_idx(tmp_path / "x")
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, values)


def test_load_mnist_mixed_gzip(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n, gz in (("train", 6, True), ("t10k", 3, False)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        for kind, array, dims in (("images", images, 3), ("labels", labels, 1)):
            data = _idx(array, 0x08)
            name = f"{prefix}-{kind}-idx{dims}-ubyte" + (".gz" if gz else "")
            (tmp_path / name).write_bytes(gzip.compress(data) if gz else data)
    splits = load_mnist(tmp_path)
    assert splits["train"][0].shape == (6, 28, 28) and splits["test"][0].shape == (3, 28, 28)
    assert splits["train"][1].dtype == np.int64


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "type code 0x07"),
        (b"\x00\x00\x08\x02" + struct.pack(">I", 1), "truncated"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 4) + b"\x00", "expected 12"),
    ],
)
def test_malformed_idx(tmp_path, data, message):
    (tmp_path / "bad").write_bytes(data)
    with pytest.raises(DataError, match=message):
        read_idx(tmp_path / "bad")


def test_corrupt_gzip_and_missing_files(tmp_path):
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match="bad.gz"):
        read_idx(tmp_path / "bad.gz")
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\[\.gz\]"):
        load_mnist(tmp_path)
