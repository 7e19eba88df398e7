"""The CLI as a Unix process: real signals and real pipes.

SIGINT / SIGTERM during `specdyn run`: the state is saved, one line says how to resume, and
the resumed run equals an uninterrupted one. A closed stdout (`specdyn tasks | head`) ends
quietly with status 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from forked import start_cli
from safetensors.torch import load_file

from specdyn import open_run
from specdyn.cli.main import main
from specdyn.store import layout

ARGS = ["run", "grokking", "--preset", "tiny", "--no-progress"]
ARGS += ["--set", "steps=200", "--set", "every=10", "--set", "eval_every=10"]
ARGS += ["--set", "state_every=0"]  # no periodic state: only the signal's save resumes


def _run_dir(out: Path) -> Path:
    (run_dir,) = out.iterdir()
    return run_dir


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    assert main([*ARGS, "--out", str(out)]) == 0
    return _run_dir(out)


def _child_env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}


def test_closed_stdout_exits_quietly_with_status_141():
    """The reader of the pipe is gone before the first write: EPIPE on a real pipe. The
    status is a killed pipe writer's (128 + SIGPIPE), so `set -o pipefail` notices."""
    cmd = [sys.executable, "-m", "specdyn.cli.main", "tasks"]
    child = subprocess.Popen(cmd, env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    with child.stderr:
        stderr = child.stderr.read()
    assert child.wait(timeout=300) == 141
    assert stderr == b""


def test_analyze_into_a_closed_pipe_still_records_every_checkpoint(tmp_path):
    """`specdyn analyze ... | head -1` used to stop after the first checkpoint, exit 0,
    and leave a run folder with no metrics.parquet and no agreement."""
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(0)
    (tmp_path / "ckpts").mkdir()
    for step in (100, 200):
        shapes = {"layers.0.weight": (8, 6), "layers.1.weight": (5, 8)}
        state = {name: torch.randn(*shape, generator=g) for name, shape in shapes.items()}
        save_file(state, tmp_path / "ckpts" / f"step_{step}.safetensors")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "specdyn.cli.main", "analyze", str(tmp_path / "ckpts")]
    child = subprocess.Popen(
        [*cmd, "--out", str(out)], env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.readline()  # what `head -1` reads before it closes the pipe
    child.stdout.close()
    with child.stderr:
        stderr = child.stderr.read()
    assert child.wait(timeout=300) == 141, stderr
    run = open_run(out, verify=True)
    assert run.steps.tolist() == [100, 200] and run.gaps() == []
    assert (out / layout.METRICS).exists() and (out / layout.AGREEMENT).exists()


def _interrupt(out: Path, signum: int) -> tuple[int, str]:
    """Start the run in a child process; signal it once step 10's spectra are on disk.
    Returns the child's exit status and stderr."""
    stderr = out.parent / f"{out.name}-stderr"
    child = start_cli([*ARGS, "--out", str(out)], stderr)
    try:
        deadline = time.monotonic() + 300
        while not list(out.glob("*/spectra/step_00000010.safetensors")):
            assert child.is_alive(), "the run ended before step 10"
            assert time.monotonic() < deadline, "the run never reached step 10"
            time.sleep(0.01)
        os.kill(child.pid, signum)
    except AssertionError:
        child.kill()
        raise
    finally:
        child.join(300)
    return child.exitcode, stderr.read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_state_and_the_same_command_resumes(tmp_path, signum, uninterrupted):
    code, stderr = _interrupt(tmp_path, signum)
    name = signal.Signals(signum).name
    assert code == 128 + signum
    (line,) = stderr.splitlines()  # one line, no traceback
    assert line.startswith(f"specdyn: stopped by {name} at step ")
    assert "run the same command: specdyn run grokking --preset tiny" in line
    run_dir = _run_dir(tmp_path)
    saved = torch.load(run_dir / layout.STATE, weights_only=True)
    assert not saved["done"] and 10 <= saved["step"] < 200
    assert f"at step {saved['step']}," in line

    assert main([*ARGS, "--out", str(tmp_path)]) == 0  # the same command resumes
    for table in (layout.HISTORY, layout.METRICS):
        pd.testing.assert_frame_equal(
            pd.read_parquet(run_dir / table), pd.read_parquet(uninterrupted / table)
        )
    steps = [p.name for p in layout.step_files(run_dir / layout.SPECTRA)]
    assert steps == [p.name for p in layout.step_files(uninterrupted / layout.SPECTRA)]
    for name in steps:
        resumed = load_file(run_dir / layout.SPECTRA / name)
        whole = load_file(uninterrupted / layout.SPECTRA / name)
        assert resumed.keys() == whole.keys()
        for key in whole:
            torch.testing.assert_close(resumed[key], whole[key], rtol=1e-5, atol=1e-6)
