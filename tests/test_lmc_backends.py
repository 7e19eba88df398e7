"""``specdyn lmc`` through the sweep backends, for real: the same tiny design on the local
backend and on a local Ray instance gives the same tables; a branch that fails (its kept
state is unreadable) is reported while the others finish, the command exits 1, and the same
command resumes it once the state is back. No mocks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from specdyn.analyses.lmc import read_tables
from specdyn.cli.main import main
from specdyn.store import layout

pytest.importorskip("ray")

DESIGN = ["lmc", "mlp-cifar10", "--preset", "tiny", "--set", "steps=6", "--set", "eval_every=6"]
DESIGN += ["--trunks", "1", "--branches", "2", "--splits", "2,4", "--threads", "1"]


def _run(out: Path, *extra: str) -> int:
    return main([*DESIGN, "--out", str(out), "--no-progress", *extra])


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lmc-local")
    assert _run(out) == 0
    return next(out.glob("lmc-*"))


def _same_tables(a: Path, b: Path) -> None:
    left, right = read_tables(a), read_tables(b)
    for name in left:
        keys = [c for c in left[name].columns if c not in ("loss", "error", "value")]
        pd.testing.assert_frame_equal(
            left[name].sort_values(keys).reset_index(drop=True),
            right[name].sort_values(keys).reset_index(drop=True),
        )


def test_ray_backend_gives_the_local_tables(local, tmp_path, ray_instance, capsys):
    assert _run(tmp_path, "--backend", "ray", "--workers", "2") == 0
    design = next(tmp_path.glob("lmc-*"))
    assert design.name == local.name
    _same_tables(local, design)
    lines = capsys.readouterr().out.splitlines()
    assert "5 done" in lines  # the trunk and four branches


def test_a_failed_branch_does_not_stop_the_others_and_is_resumed(local, tmp_path, capsys):
    design = tmp_path / local.name
    skip = shutil.ignore_patterns("branches")
    shutil.copytree(local / "trunk-0", design / "trunk-0", ignore=skip)
    state = design / "trunk-0" / layout.STATES / "step_00000004.pt"
    saved = state.read_bytes()
    torch.save({"not": "a training state"}, state)  # whole, but no state a branch can start from
    assert _run(tmp_path) == 1
    captured = capsys.readouterr()
    assert "some trunks or branches failed" in captured.err
    summary = [line for line in captured.out.splitlines() if "branches/lmc-" in line]
    assert sorted(line.split()[0] for line in summary) == ["done", "done", "failed", "failed"]
    barrier = read_tables(design)["barrier"]
    assert set(barrier["step"]) == {2}  # the pair whose branches finished was evaluated
    state.write_bytes(saved)
    assert _run(tmp_path) == 0
    _same_tables(local, design)
