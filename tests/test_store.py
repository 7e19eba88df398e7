"""The run store: round trip, atomic writes, tables that never hold a step twice."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load, save

from specdyn import open_run
from specdyn.errors import RunStoreError
from specdyn.store import RunWriter, layout
from specdyn.store.atomic import write_atomic
from specdyn.store.tensorfile import file_chunks
from specdyn.store.verify import safetensors_problem


def test_round_trip(tmp_path):
    writer = RunWriter(tmp_path)
    writer.write_config({"task": "t", "seed": 3})
    s = torch.tensor([3.0, 2.0, 1.0])
    U, V = torch.eye(4)[:, :3], torch.eye(3)
    for step in (0, 10):
        writer.write_spectra(step, {"a": s * (step + 1)}, {"a": (U, V)}, {"a->b": torch.ones(3)})
        writer.metrics.add([{"step": step, "matrix": "a", "metric": "m", "value": float(step)}])
        writer.history.add([{"step": step, "split": "train", "loss": 1.0, "error": 0.5}])
    writer.flush()
    writer.write_checkpoint(10, {"w": torch.arange(6.0).reshape(2, 3)})

    run = open_run(tmp_path)
    assert run.config == {"task": "t", "seed": 3}
    assert list(run.history.columns) == ["step", "split", "loss", "error"]
    assert list(run.metrics.columns) == ["step", "matrix", "metric", "value"]
    assert run.metrics["value"].tolist() == [0.0, 10.0]
    steps, values = run.singular_values("a")
    np.testing.assert_array_equal(steps, [0, 10])
    np.testing.assert_allclose(values, [[3, 2, 1], [33, 22, 11]])
    assert run.matrices == ["a"] and run.pairs == ["a->b"]
    np.testing.assert_array_equal(run.alignment("a->b")[1], np.ones((2, 3)))
    U_read, V_read = run.vectors("a", 10)
    np.testing.assert_array_equal(U_read, U.numpy())
    assert run.checkpoint_steps == [10]
    torch.testing.assert_close(run.checkpoint(10)["w"], torch.arange(6.0).reshape(2, 3))


def test_rows_written_twice_are_replaced(tmp_path):
    writer = RunWriter(tmp_path)
    row = {"step": 5, "matrix": "a", "metric": "m", "value": 1.0}
    writer.metrics.add([row])
    writer.metrics.add([row | {"value": 2.0}])
    writer.flush()
    again = RunWriter(tmp_path)  # reopened from disk
    again.metrics.add([row | {"value": 3.0}])
    assert again.metrics.frame["value"].tolist() == [3.0]


def test_drop_after_forgets_later_steps(tmp_path):
    writer = RunWriter(tmp_path)
    for step in (0, 5, 10):
        writer.metrics.add([{"step": step, "matrix": "a", "metric": "m", "value": 0.0}])
        writer.write_spectra(step, {"a": torch.ones(2)}, {}, {})
        writer.write_checkpoint(step, {"w": torch.ones(1)})
    writer.drop_after(5)
    assert pd.read_parquet(tmp_path / layout.METRICS)["step"].tolist() == [0, 5]
    assert [layout.step_of(p) for p in layout.step_files(tmp_path / layout.SPECTRA)] == [0, 5]
    assert open_run(_config(tmp_path)).steps.tolist() == [0, 5]


def _config(path):
    (path / layout.CONFIG).write_text('{"task": null}')
    return path


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_atomic(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]  # no temporary left behind


def test_not_a_run(tmp_path):
    with pytest.raises(RunStoreError, match="not a specdyn run"):
        open_run(tmp_path)
    (tmp_path / layout.CONFIG).write_text("{not json")
    with pytest.raises(RunStoreError, match="not valid JSON"):
        open_run(tmp_path)


def test_malformed_files_give_store_errors(tmp_path):
    (tmp_path / layout.CONFIG).write_text(json.dumps({"task": "t"}))
    (tmp_path / layout.METRICS).write_bytes(b"not parquet")
    run = open_run(tmp_path)
    with pytest.raises(RunStoreError, match="cannot read table"):
        _ = run.metrics
    spectra = tmp_path / layout.SPECTRA
    spectra.mkdir()
    layout.step_file(spectra, 0).write_bytes(b"\x00" * 20)
    with pytest.raises(RunStoreError, match="safetensors"):
        run.singular_values("a")
    with pytest.raises(RunStoreError, match="no checkpoint"):
        run.checkpoint(7)


def test_missing_matrix_is_named(tiny_run):
    with pytest.raises(RunStoreError, match="nothing for 'nope'"):
        open_run(tiny_run).singular_values("nope")


def test_reopening_for_writing_removes_temporaries_of_killed_writes(tmp_path):
    writer = RunWriter(tmp_path)
    writer.write_spectra(0, {"a": torch.ones(2)}, {}, {})
    writer.close()
    leftovers = [tmp_path / ".tmp-metrics.parquet.x1", tmp_path / "spectra/.tmp-step.x2"]
    for path in leftovers:
        path.write_bytes(b"")  # what a SIGKILL between mkstemp and rename leaves
    (tmp_path / "notes.tmp").write_text("mine")
    RunWriter(tmp_path).close()
    assert not any(path.exists() for path in leftovers)
    assert (tmp_path / "notes.tmp").exists() and layout.step_files(tmp_path / "spectra")


def test_a_process_may_reopen_its_own_folder(tmp_path):
    """The lock is per process (two processes: tests/test_train.py); reopening is fine."""
    first = RunWriter(tmp_path)
    again = RunWriter(tmp_path)  # the same process may open its folder twice
    again.close()
    first.close()
    assert fcntl_free(tmp_path / layout.LOCK)


def fcntl_free(path) -> bool:
    import fcntl

    with open(path) as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if anyone still holds it
    return True


def test_every_file_of_a_run_follows_the_umask(tiny_run):
    """Spectra, checkpoints and agreement were 0600 while the rest was 0644."""
    umask = os.umask(0)
    os.umask(umask)
    modes = {
        str(p.relative_to(tiny_run)): stat.S_IMODE(p.stat().st_mode)
        for p in tiny_run.rglob("*")
        if p.is_file()
    }
    assert {
        layout.AGREEMENT,
        layout.STATE,
        layout.LOCK,
        "spectra/step_00000000.safetensors",
    } <= set(modes)
    assert modes == dict.fromkeys(modes, 0o666 & ~umask)


def test_a_writer_that_recreates_its_file_still_gets_the_umask_mode(tmp_path):
    umask = os.umask(0)
    os.umask(umask)

    def recreate(path):  # what a library that writes its own file may do
        path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)

    write_atomic(tmp_path / "figure.png", recreate)
    assert stat.S_IMODE((tmp_path / "figure.png").stat().st_mode) == 0o666 & ~umask


def _split(blob: bytes) -> tuple[dict, bytes]:
    n = int.from_bytes(blob[:8], "little")
    return json.loads(blob[8 : 8 + n]), blob[8 + n :]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_tensor_files_hold_what_safetensors_writes(dtype, tmp_path):
    """A run's tensor file, streamed chunk by chunk from the tensors' memory, holds byte for
    byte the data ``safetensors.torch.save`` writes, views and non-contiguous tensors
    included, and the same header with the data's SHA-256 added to its metadata."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(6, 5, generator=g).to(dtype)
    tensors = {"b.view": base[1:4], "a.t": base.T, "c.int": torch.arange(3), "d.mask": base > 0}
    tensors["e.column"] = base[:, 1:2].T  # a size-1 dim with a stride of 5
    meta = {"step": "7"}
    blob = b"".join(file_chunks(tensors, meta))
    header, data = _split(blob)
    want_header, want_data = _split(save({k: v.contiguous() for k, v in tensors.items()}, meta))
    assert data == want_data
    assert header.pop("__metadata__").pop(layout.CHECKSUM) == hashlib.sha256(data).hexdigest()
    assert header == {k: v for k, v in want_header.items() if k != "__metadata__"}
    (tmp_path / "f.safetensors").write_bytes(blob)
    assert safetensors_problem(tmp_path / "f.safetensors") is None
    for key, value in load(blob).items():
        torch.testing.assert_close(value, tensors[key].contiguous(), rtol=0, atol=0)


def test_a_tensor_of_a_dtype_safetensors_cannot_hold_is_one_line_and_no_file(tmp_path):
    writer = RunWriter(tmp_path / "run")
    with pytest.raises(RunStoreError, match=r"cannot store 'z' of dtype torch.complex64"):
        writer.write_artifacts({"a": torch.zeros(2), "z": torch.zeros(2, dtype=torch.complex64)})
    assert not list((tmp_path / "run").glob("*.safetensors"))
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(layout.TMP_PREFIX)]
