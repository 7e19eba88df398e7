"""``specdyn analyze --backend local|ray``: checkpoints analysed in parallel, one task each,
recorded in step order: the run folder is byte for byte the one a single process writes.
On a real local Ray instance (two workers), a worker killed mid-series fails its task, the
command says to run it again, and the rerun completes the same folder."""

from __future__ import annotations

import json
import os
import signal
import struct
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from specdyn.cli.main import main
from specdyn.store import layout

MATRICES, SIZE = 12, 384


def _series(folder: Path, steps=(10, 20, 30, 40)) -> Path:
    folder.mkdir(parents=True)
    for step in steps:
        gen = torch.Generator().manual_seed(step)
        state = {
            f"layers.{i}.weight": torch.randn(SIZE, SIZE, generator=gen) for i in range(MATRICES)
        }
        save_file(state, folder / f"step_{step}.safetensors")
    return folder


def _files(run: Path) -> dict[str, object]:
    """Every file's bytes; for safetensors files the parsed header and the data bytes
    (safetensors writes metadata keys in hash order, which differs between processes)."""
    return {
        str(p.relative_to(run)): _content(p)
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.name != layout.LOCK
    }


def _content(path: Path) -> object:
    data = path.read_bytes()
    if path.suffix != ".safetensors":
        return data
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + size]), data[8 + size :]


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> Path:
    return _series(tmp_path_factory.mktemp("series") / "ckpts")


@pytest.fixture(scope="module")
def reference(series, tmp_path_factory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert (
        main(["analyze", str(series), "--out", str(out), "--top-k", "5", "--metrics", "all"]) == 0
    )
    return _files(out)


def _argv(series: Path, out: Path, *extra: str) -> list[str]:
    return ["analyze", str(series), "--out", str(out), "--top-k", "5", "--metrics", "all", *extra]


def test_local_workers_write_the_one_process_folder(series, reference, tmp_path):
    out = tmp_path / "run"
    assert main(_argv(series, out, "--backend", "local", "--workers", "2")) == 0
    assert _files(out) == reference


def _kill_a_worker_mid_task(out: Path) -> int | None:
    """kill -9 the process analysing a checkpoint (its .running marker), once one part
    exists or a task is under way; the pid, or None if none was caught running."""
    deadline = time.time() + 120
    while time.time() < deadline:
        for marker in (out / ".parts").glob("*.running"):
            try:
                pid = int(marker.read_text())
            except (OSError, ValueError):
                continue
            if not marker.with_suffix(".safetensors").exists():
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.005)
    return None


def test_ray_workers_killed_then_resumed_write_the_one_process_folder(
    series, reference, tmp_path, capsys, ray_instance
):
    out = tmp_path / "run"
    argv = _argv(series, out, "--backend", "ray", "--workers", "2")
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(main(argv)))
    thread.start()
    killed = _kill_a_worker_mid_task(out)
    thread.join(timeout=600)
    assert killed is not None, "no worker caught mid-task"
    assert codes == [2]
    err = capsys.readouterr().err
    assert err.startswith("specdyn: error: the worker analysing step ") and err.count("\n") == 1
    assert "run the same command again to resume" in err
    assert main(argv) == 0
    assert _files(out) == reference


def test_bad_backend_options_are_one_line(series, tmp_path, capsys):
    for extra, message in (
        (("--workers", "0"), "--workers must be at least 1"),
        (("--address", "auto"), "--address is for --backend ray"),
    ):
        assert main(_argv(series, tmp_path / "run", *extra)) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
