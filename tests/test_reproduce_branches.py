"""``specdyn reproduce`` of the experiments on checkpoints, on a tiny MLP: Figure 10 trains
the trunk and its two lottery branches, Figure 4 reuses the same trunk sweep and prunes it;
the claims' numbers are the stores' numbers."""

from __future__ import annotations

import json

import pytest

from specdyn import open_sweep
from specdyn.analyses.branching import read_spec
from specdyn.cli.main import main
from specdyn.reproduce.branch_targets import checkpoint_trunk, lmc_plan
from specdyn.reproduce.figure_targets import TARGETS
from specdyn.store import layout, open_run
from specdyn.tasks import get_preset

ARGS = ["--task", "mlp-cifar10", "--scale", "tiny", "--seeds", "0", "--no-progress"]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce-branches")
    main(["reproduce", "10", *ARGS, "--out", str(out)])
    main(["reproduce", "4", *ARGS, "--out", str(out)])
    return out


def _report(out, figure):
    return json.loads((out / f"figure-{figure}" / "mlp-cifar10-claims.json").read_text())


def test_lottery_figure_trains_both_masks_on_the_trunk(out):
    (sweep_dir,) = (out / "sweeps").iterdir()
    (trunk,) = [run for _, _, run in open_sweep(sweep_dir).runs()]
    branches = sorted((trunk.path / layout.BRANCHES).glob("lottery-*"))
    assert sorted(read_spec(p).mask for p in branches) == ["magnitude", "random"]
    report = _report(out, "10")
    assert report["failed_points"] == 0 and len(report["claims"]) == 3
    losses = report["claims"][0]["numbers"]["train_loss"]
    for path in branches:
        history = open_run(path).history
        final = history[history["split"] == "train"].sort_values("step")["loss"].iloc[-1]
        assert losses[read_spec(path).mask] == pytest.approx(final)
    assert (out / "figure-10" / "mlp-cifar10.png").read_bytes()[:4] == b"\x89PNG"


def test_pruning_figure_reuses_the_trunks_and_reads_their_tables(out):
    assert len(list((out / "sweeps").iterdir())) == 1  # Figures 4 and 10 share the trunks
    (sweep_dir,) = (out / "sweeps").iterdir()
    (trunk,) = [run for _, _, run in open_sweep(sweep_dir).runs()]
    table = trunk.analysis("prune")
    assert sorted(set(table["step"])) == trunk.checkpoint_steps
    last = table[(table["step"] == table["step"].max()) & (table["split"] == "val")]
    report = _report(out, "4")
    errors = report["claims"][0]["numbers"]["final_error"]
    for variant in ("full", "top", "bottom"):
        expected = last[last["variant"] == variant]["error"].item()
        assert errors[variant] == pytest.approx(expected)
    markdown = (out / "figure-4" / "mlp-cifar10-claims.md").read_text()
    assert markdown.count("| PASS |") + markdown.count("| FAIL |") == 3


def test_branch_trunks_keep_what_their_experiment_needs():
    cpu = get_preset("mlp-cifar10", "cpu")
    assert checkpoint_trunk(cpu, "paper").train.state_at == (156,)  # end of epoch 4
    splits, perturb, branches = lmc_plan(cpu, "paper")
    assert splits == (0, 8, 16, 23, 31, 39, 78, 117, 156, 195) and perturb == 156
    assert branches == 3
    spec = TARGETS["11"].spec("mlp-cifar10", "cpu", (0, 1, 2))
    assert spec.base is not None and spec.overrides == ()
    assert (spec.base.train.steps, spec.base.train.state_at) == (195, (0, 8, 39, 117))
    assert TARGETS["13"].spec("mlp-cifar10", "cpu", (0, 1, 2)) == spec  # one trunk sweep
    with pytest.raises(Exception, match="figure 11 is drawn for"):
        TARGETS["11"].spec("grokking", "cpu", (0, 1, 2))  # full batch: no data order


def test_every_branch_target_gives_valid_trunks_at_every_scale():
    from specdyn.reproduce.branch_targets import BRANCH_TARGETS
    from specdyn.sweep.spec import base_config
    from specdyn.tasks.checks import validate_run
    from specdyn.tasks.registry import TASKS

    for target in BRANCH_TARGETS.values():
        for task in target.allowed() or TASKS:
            for scale in ("tiny", "cpu", "paper"):
                validate_run(base_config(target.spec(task, scale, (0, 1))))
