"""Lottery-ticket branches end to end on a tiny MLP: rewinding is exact, masks hold through
training, and bad input is refused before anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from specdyn.analyses.branching import BranchSpec, prepare
from specdyn.analyses.lottery import lottery
from specdyn.cli.main import main
from specdyn.config import apply_overrides
from specdyn.store import layout, open_run
from specdyn.tasks import get_preset
from specdyn.train import train


@pytest.fixture(scope="module")
def trunk(tmp_path_factory) -> Path:
    """Tiny MLP trunk: 6 steps, full training state kept at step 2, recorded every 2."""
    cfg = apply_overrides(
        get_preset("mlp-cifar10", "tiny"),
        ["steps=6", "state_at=2", "eval_every=2", "record.every=2", "state_every=4"],
    )
    path = tmp_path_factory.mktemp("lottery") / "trunk"
    train(cfg, path, torch.device("cpu"), progress=False)
    return path


def test_density_one_rewinds_to_the_trunk_exactly(trunk):
    # Nothing masked: rewinding (weights, momentum, schedule, RNG) must replay the trunk.
    branch = open_run(lottery(trunk, "magnitude", 1.0, rewind_step=2))
    final, replay = open_run(trunk).checkpoint(6), branch.checkpoint(6)
    for key, value in final.items():
        torch.testing.assert_close(replay[key], value, rtol=0, atol=0)
    assert branch.history["step"].min() == 2


def test_magnitude_and_random_branches_keep_their_masks(trunk, capsys):
    for mask in ("magnitude", "random"):
        argv = ["lottery", str(trunk), "--mask", mask, "--density", "0.1", "--rewind-step", "2"]
        assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    paths = [Path(line) for line in out.split() if "branches/lottery-" in line]
    (magnitude, random) = [open_run(p) for p in paths]
    masks = [load_file(r.path / layout.MASK) for r in (magnitude, random)]
    assert set(masks[0]) == {"layers.0.weight", "layers.1.weight", "layers.2.weight"}
    total = sum(m.numel() for m in masks[0].values())
    assert sum(int(m.sum()) for m in masks[0].values()) == round(0.1 * total)
    for key in masks[0]:
        assert int(masks[0][key].sum()) == int(masks[1][key].sum())  # same layer densities
    for run, mask in zip((magnitude, random), masks, strict=True):
        final = run.checkpoint(6)
        for key, m in mask.items():
            assert torch.all(final[key][~m] == 0) and torch.all(final[key][m] != 0)
        table = run.analysis("lottery", "agreement")
        assert set(table["quantity"]) == {"pruned_final", "trajectory"}
        assert sorted(set(table[table["quantity"] == "trajectory"]["step"])) == [2, 4, 6]
    assert (trunk / layout.FIGURES / "lottery.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rewind-step", "6"], "is not before the end of run"),
        (["--rewind-step", "3"], "kept no training state at step 3 (kept: 2;"),
        (["--density", "0"], "density must lie in (0, 1]"),
        (["--density", "1.5"], "density must lie in (0, 1]"),
    ],
)
def test_bad_input_writes_nothing(trunk, tmp_path, capsys, extra, message):
    fresh = tmp_path / "copy"
    shutil.copytree(trunk, fresh, ignore=shutil.ignore_patterns("branches", "figures"))
    assert main(["lottery", str(fresh), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (fresh / layout.BRANCHES).exists()


def test_a_folder_holding_another_branch_is_refused(trunk, capsys):
    _, path = prepare(open_run(trunk), BranchSpec("lottery", 2, mask="magnitude", density=0.5))
    saved = json.loads((path / layout.BRANCH).read_text())
    (path / layout.BRANCH).write_text(json.dumps(saved | {"mask_seed": 7}))
    assert main(["lottery", str(trunk), "--density", "0.5", "--rewind-step", "2"]) == 2
    assert "holds a different branch" in capsys.readouterr().err


class _Marker:
    """A pickled object that would create ``path`` when unpickled."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_kept_state_that_needs_code_is_refused_in_one_line_before_any_branch(
    trunk, tmp_path, capsys
):
    """It used to be refused by the worker as torch's multi-line message, exit 1, with the
    branch folder (branch.json, mask) left behind."""
    fresh = tmp_path / "copy"
    shutil.copytree(trunk, fresh, ignore=shutil.ignore_patterns("branches", "figures"))
    marker = tmp_path / "ran"
    state = layout.state_file(fresh / layout.STATES, 2)
    torch.save({"step": 2, "model": _Marker(marker)}, state)
    assert main(["lottery", str(fresh), "--rewind-step", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("specdyn: error: "), err
    assert "refused without running it" in err and "Unsupported global" in err
    assert not marker.exists() and not (fresh / layout.BRANCHES).exists()


def test_a_branch_that_fails_in_training_leaves_no_folder(trunk, tmp_path, capsys, monkeypatch):
    import specdyn.analyses.lottery as lottery_module

    fresh = tmp_path / "copy"
    shutil.copytree(trunk, fresh, ignore=shutil.ignore_patterns("branches", "figures"))

    def failing(points, execution):
        from specdyn.sweep.worker import Outcome

        return [Outcome("failed", "DivergedError: training loss is nan at step 3") for _ in points]

    monkeypatch.setattr(lottery_module, "run_branches", failing)
    assert main(["lottery", str(fresh), "--rewind-step", "2", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the lottery branch failed (DivergedError" in err
    assert not (fresh / layout.BRANCHES).exists()
