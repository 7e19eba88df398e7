"""Disk full and other write errors: one line naming the file, nothing half-written, and
the same command resumes the run once the disk has space again."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pandas as pd
import pytest

from specdyn import open_run
from specdyn.cli.main import main
from specdyn.store import atomic, layout


def _fail_on(monkeypatch, name_start: str, code: int) -> None:
    real = atomic._write_all

    def write_all(path, data):
        if path.name.startswith(f"{layout.TMP_PREFIX}{name_start}"):
            raise OSError(code, os.strerror(code))
        real(path, data)

    monkeypatch.setattr(atomic, "_write_all", write_all)


@pytest.mark.parametrize(
    "target, code, message",
    [
        ("step_00000010", errno.ENOSPC, "no space left on device while writing {}; free space"),
    ],
)
def test_a_failed_write_is_one_line_and_the_run_resumes(
    tmp_path, tiny_run, monkeypatch, capsys, target, code, message
):
    argv = ["run", "grokking", "--preset", "tiny", "--out", str(tmp_path), "--no-progress"]
    _fail_on(monkeypatch, target, code)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    run_dir = tmp_path / out.strip().split("/")[-1]
    path = {"step_00000010": run_dir / layout.SPECTRA / "step_00000010.safetensors"}.get(
        target, run_dir / target
    )
    assert (
        err == f"specdyn: error: {message.format(path)} and run the same command again to resume\n"
    )
    leftovers = [p for p in run_dir.rglob(f"{layout.TMP_PREFIX}*")]
    assert leftovers == [] and open_run(run_dir).gaps() == []  # readable, nothing half-written
    monkeypatch.undo()  # space again
    assert main(argv) == 0
    pd.testing.assert_frame_equal(open_run(run_dir).metrics, open_run(tiny_run).metrics)
    pd.testing.assert_frame_equal(open_run(run_dir).history, open_run(tiny_run).history)


@pytest.mark.parametrize(
    "code, text",
    [
        (errno.EACCES, "permission denied while writing RUN/state.pt; make it writable"),
        (errno.EROFS, "read-only file system while writing RUN/state.pt; make it writable"),
        (errno.EIO, "input/output error while writing RUN/state.pt; fix that"),
    ],
)
def test_other_errors_name_their_reason(code, text):
    err = atomic.write_error(Path("RUN/state.pt"), OSError(code, "x"))
    assert str(err) == f"{text} and run the same command again to resume"


@pytest.mark.parametrize("out", [None, "new/figs"])
def test_plot_on_a_full_disk_writes_every_figure_or_none(
    tiny_run, tmp_path, capsys, monkeypatch, out
):
    """The disk fills at figure.png, the last of the PNGs: it used to leave the six before
    it; now none is written, no temporary stays, and a folder made for them is removed."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns(layout.FIGURES))
    before = sorted(tmp_path.rglob("*"))
    _fail_on(monkeypatch, "figure.png", errno.ENOSPC)
    argv = ["plot", str(run)] + (["--out", str(tmp_path / out)] if out else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no space left on device while writing" in err
    assert "figure.png" in err
    assert sorted(tmp_path.rglob("*")) == before
