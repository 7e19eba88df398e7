"""Every experiment on checkpoints runs on every task's tiny preset, through the CLI: half-SVD
pruning, a magnitude lottery branch, and an LMC design with a perturbation (not on grokking,
whose full batch makes every data order the same run). Tiny runs learn nothing, so what is
checked is what holds on any model: every table has its rows and finite values, the pruned
variants are evaluated at every checkpoint, and the mask survives training."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from specdyn.analyses.lmc import read_tables
from specdyn.cli.main import main
from specdyn.store import layout, open_run

TASKS = ("grokking", "vgg16-cifar10", "unet-mnist", "lstm-librispeech", "transformer-wikitext103")
SHORT = ("steps=4", "every=2", "eval_every=2", "checkpoint_every=2")
LR_DROPS = {"vgg16-cifar10": ("milestones=2,3,4",)}  # its tiny preset drops at 4, 8, 12


def _sets(task: str, *values: str) -> list[str]:
    return [a for v in (*values, *LR_DROPS.get(task, ())) for a in ("--set", v)]


@pytest.fixture(scope="module", params=TASKS)
def trunk(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp(request.param)
    argv = ["run", request.param, "--preset", "tiny", *_sets(request.param, *SHORT, "state_at=2")]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    (path,) = out.iterdir()
    return path


def test_pruning_evaluates_every_checkpoint(trunk):
    assert main(["prune", str(trunk), "--norm-batches", "2"]) == 0
    table = open_run(trunk).analysis("prune")
    assert sorted(set(table["step"])) == [0, 2, 4]
    assert set(table["variant"]) == {"full", "top", "bottom"}
    assert table[["loss", "error"]].notna().all().all()
    assert (trunk / layout.FIGURES / "prune.png").exists()


def test_lottery_branch_keeps_its_mask(trunk, capsys):
    argv = ["lottery", str(trunk), "--density", "0.2", "--rewind-step", "2", "--no-progress"]
    assert main(argv) == 0
    (line,) = [w for w in capsys.readouterr().out.split() if "branches/lottery-" in w]
    branch = open_run(line)
    final = branch.checkpoint(4)
    mask = load_file(branch.path / layout.MASK)
    assert mask
    for key, m in mask.items():
        assert torch.all(final[key][~m] == 0)
    assert sorted(set(branch.history["step"])) == [2, 4]


@pytest.mark.parametrize("task", [t for t in TASKS if t != "grokking"])
def test_lmc_design_with_a_perturbation(task, tmp_path):
    argv = ["lmc", task, "--preset", "tiny", *_sets(task, *SHORT), "--trunks", "1", "--branches"]
    argv += ["2", "--splits", "2", "--perturb", "1", "--perturb-step", "2", "--norm-batches", "2"]
    assert main([*argv, "--out", str(tmp_path), "--no-progress"]) == 0
    (design,) = tmp_path.glob(f"lmc-{task}-tiny-*")
    tables = read_tables(design)
    barrier = tables["barrier"]
    assert set(barrier["kind"]) == {"same", "perturb"}
    assert all(math.isfinite(v) for v in barrier["value"])
    assert len(tables["curve"]) == 2 * 11 * barrier["split"].nunique()  # 2 pairs x 11 alphas
    # |<u, u'>| |<v, v'>| of stored unit vectors: in [0, 1] up to their storage rounding
    assert tables["agreement"]["value"].between(0, 1 + 2e-3).all()
