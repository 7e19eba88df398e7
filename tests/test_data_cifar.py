"""CIFAR-10 readers on tiny batches written in both official formats."""

from __future__ import annotations

import os
import pickle
import struct

import numpy as np
import pytest

from specdyn.data import DataError, load_cifar10, read_binary_batch, read_python_batch


def _batch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n)


def _write_binary(path, images, labels) -> None:
    records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(images), -1)], 1)
    path.write_bytes(records.tobytes())


def _write_python(path, images, labels) -> None:
    batch = {
        "batch_label": "training batch",
        "labels": labels.tolist(),
        "data": images.reshape(len(images), -1),
        "filenames": [f"img_{i}.png" for i in range(len(images))],
    }
    path.write_bytes(pickle.dumps(batch))


def _layout(root, binary: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder = root / ("cifar-10-batches-bin" if binary else "cifar-10-batches-py")
    folder.mkdir(parents=True)
    write, suffix = (_write_binary, ".bin") if binary else (_write_python, "")
    written = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for seed, name in enumerate(names):
        written[name] = _batch(3, seed)
        write(folder / f"{name}{suffix}", *written[name])
    return written


@pytest.mark.parametrize("binary", [True, False])
def test_load_cifar10_both_layouts(tmp_path, binary):
    written = _layout(tmp_path, binary)
    splits = load_cifar10(tmp_path)
    images, labels = splits["train"]
    assert images.shape == (15, 3, 32, 32) and images.dtype == np.uint8
    assert labels.shape == (15,) and labels.dtype == np.int64
    np.testing.assert_array_equal(images[3:6], written["data_batch_2"][0])
    np.testing.assert_array_equal(labels[3:6], written["data_batch_2"][1])
    np.testing.assert_array_equal(splits["test"][0], written["test_batch"][0])


def test_binary_record_is_label_then_chw(tmp_path):
    record = np.zeros(3073, np.uint8)
    record[0] = 7
    record[1 + 1024 + 32 * 5 + 9] = 200  # green channel, row 5, column 9
    (tmp_path / "b.bin").write_bytes(record.tobytes())
    images, labels = read_binary_batch(tmp_path / "b.bin")
    assert labels.tolist() == [7] and images[0, 1, 5, 9] == 200 and images.sum() == 200


def test_binary_batch_of_wrong_size_is_refused(tmp_path):
    (tmp_path / "b.bin").write_bytes(bytes(3073 + 5))
    with pytest.raises(DataError, match="b.bin"):
        read_binary_batch(tmp_path / "b.bin")


def _py2_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """What Python 2's cPickle wrote for CIFAR: protocol 2, str keys, numpy.core globals."""

    def string(s: bytes) -> bytes:  # BINSTRING: a Python 2 str
        return b"T" + struct.pack("<I", len(s)) + s

    def integer(i: int) -> bytes:  # BININT
        return b"J" + struct.pack("<i", i)

    dtype = b"cnumpy\ndtype\n" + string(b"u1") + integer(0) + integer(1) + b"\x87R"
    dtype += b"(" + integer(3) + string(b"|") + b"NNN" + integer(-1) + integer(-1) + integer(0)
    dtype += b"tb"
    array = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
    array += integer(0) + b"\x85" + string(b"b") + b"\x87R"
    shape = integer(data.shape[0]) + integer(data.shape[1]) + b"\x86"
    array += b"(" + integer(1) + shape + dtype + b"\x89" + string(data.tobytes()) + b"tb"
    label_list = b"](" + b"".join(integer(i) for i in labels) + b"e"
    body = string(b"data") + array + string(b"labels") + label_list
    return b"\x80\x02}(" + body + b"u."


def test_python2_pickle_as_distributed(tmp_path):
    images, labels = _batch(2, 0)
    (tmp_path / "b").write_bytes(_py2_pickle(images.reshape(2, -1), labels.tolist()))
    got, got_labels = read_python_batch(tmp_path / "b")
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_python_batch_with_bytes_keys(tmp_path):
    images, labels = _batch(2, 0)
    batch = {b"data": images.reshape(2, -1), b"labels": labels.tolist()}
    (tmp_path / "b").write_bytes(pickle.dumps(batch))
    got, got_labels = read_python_batch(tmp_path / "b")
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(got_labels, labels)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = {"data": _Exploit(marker), "labels": [0]}
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(payload))
    with pytest.raises(DataError, match=r"data_batch_1.*refused.*system"):
        read_python_batch(tmp_path / "data_batch_1")
    assert not marker.exists()


def test_corrupt_pickle_and_missing_layout(tmp_path):
    (tmp_path / "b").write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(DataError, match="not a readable pickle"):
        read_python_batch(tmp_path / "b")
    with pytest.raises(DataError, match="cifar-10-batches"):
        load_cifar10(tmp_path / "empty")


def test_labels_out_of_range(tmp_path):
    images, _ = _batch(1, 0)
    _write_binary(tmp_path / "b.bin", images, np.array([12]))
    with pytest.raises(DataError, match="labels outside"):
        read_binary_batch(tmp_path / "b.bin")
