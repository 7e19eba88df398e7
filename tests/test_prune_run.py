"""Half-SVD pruning of a run's checkpoints, end to end on a tiny MLP (BatchNorm statistics
recomputation itself is tested in test_branch_machinery.py)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from specdyn.analyses.prune_run import pruned_states
from specdyn.analyses.pruning import svd_prune
from specdyn.analyses.runs import build, run_config
from specdyn.analyses.weights import inner_weights
from specdyn.cli.main import main
from specdyn.config.schema import RecordConfig
from specdyn.store import layout, open_run
from specdyn.tasks import get_preset
from specdyn.train import train


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory) -> Path:
    """Tiny MLP, 8 steps, checkpoints at 0, 4, 8, spectra with every vector at 0 and 8."""
    cfg = get_preset("mlp-cifar10", "tiny")
    cfg = dataclasses.replace(
        cfg,
        train=dataclasses.replace(cfg.train, steps=8, eval_every=4, checkpoint_every=4),
        record=RecordConfig(every=8, top_k=64),
    )
    run_dir = tmp_path_factory.mktemp("prune") / "vgg"
    train(cfg, run_dir, torch.device("cpu"), progress=False)
    return run_dir


def test_pruned_states_are_exact_halves_from_stored_or_fresh_decompositions(mlp_run):
    run = open_run(mlp_run)
    exp = build(run_config(run), torch.device("cpu"))
    targets = inner_weights(exp.model)
    assert "layers.3" not in [w.name for w in targets]
    for step, reused in ((8, len(targets)), (4, 0)):  # step 4 was not recorded
        state = run.checkpoint(step)
        variants, n_reused = pruned_states(run, step, state, targets, 0.5)
        assert n_reused == reused
        assert torch.equal(variants["top"]["layers.3.weight"], state["layers.3.weight"])
        for w in targets:
            W = w.matrix(state[w.param].double())
            top = w.matrix(variants["top"][w.param].double())
            bottom = w.matrix(variants["bottom"][w.param].double())
            np.testing.assert_allclose((top + bottom).numpy(), W.numpy(), atol=1e-6)
            expected = svd_prune(W, "top", 0.5)
            np.testing.assert_allclose(top.numpy(), expected.numpy(), atol=1e-4)


def test_prune_command_writes_a_table_and_figure_4(mlp_run, capsys):
    assert main(["prune", str(mlp_run), "--norm-batches", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 checkpoints evaluated" in out
    table = open_run(mlp_run).analysis("prune")
    assert sorted(set(table["step"])) == [0, 4, 8]
    assert len(table) == 3 * 3 * 2  # steps x variants x splits (train, val)
    full = table[(table["variant"] == "full") & (table["step"] == 8)].set_index("split")
    history = open_run(mlp_run).history
    expected = history[history["step"] == 8].set_index("split")
    np.testing.assert_allclose(full["loss"], expected.loc[full.index, "loss"], rtol=1e-5)
    assert (mlp_run / layout.FIGURES / "prune.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["prune", str(mlp_run)]) == 0  # resumes: nothing left to evaluate
    assert "0 checkpoints evaluated" in capsys.readouterr().out


def test_prune_refuses_bad_input(mlp_run, tmp_path, capsys):
    assert main(["prune", str(mlp_run), "--fraction", "1.5"]) == 2
    assert "fraction must lie in (0, 1)" in capsys.readouterr().err
    assert main(["prune", str(mlp_run), "--norm-batches", "0"]) == 2
    assert "--norm-batches must be at least 1" in capsys.readouterr().err
    bare = tmp_path / "bare"
    shutil.copytree(mlp_run, bare, ignore=shutil.ignore_patterns("checkpoints", "analyses"))
    assert main(["prune", str(bare)]) == 2
    assert "saved no checkpoints" in capsys.readouterr().err
    assert not (bare / layout.ANALYSES).exists()


def test_prune_that_fails_at_a_later_checkpoint_leaves_no_part(
    mlp_run, tmp_path, capsys, monkeypatch
):
    """Steps 0 and 4 written as parts, step 8 fails: the parts used to stay behind (7 files
    under analyses/prune/parts/); now the folder is as it was before the command."""
    import specdyn.analyses.prune_run as prune_module

    fresh = tmp_path / "copy"
    shutil.copytree(mlp_run, fresh, ignore=shutil.ignore_patterns("analyses", "figures"))
    before = sorted(p.relative_to(fresh) for p in fresh.rglob("*"))
    real = prune_module.pruned_states

    def failing_at_8(run, step, *rest):
        if step == 8:
            raise RuntimeError("the checkpoint of step 8 does not fit the model")
        return real(run, step, *rest)

    monkeypatch.setattr(prune_module, "pruned_states", failing_at_8)
    with pytest.raises(RuntimeError, match="step 8"):
        main(["prune", str(fresh)])
    assert sorted(p.relative_to(fresh) for p in fresh.rglob("*")) == before


def test_prune_of_a_damaged_checkpoint_is_one_line_before_any_work(mlp_run, tmp_path, capsys):
    fresh = tmp_path / "copy"
    shutil.copytree(mlp_run, fresh, ignore=shutil.ignore_patterns("analyses", "figures"))
    layout.step_file(fresh / layout.CHECKPOINTS, 4).write_bytes(b"\x10" + b"\x00" * 40)
    assert main(["prune", str(fresh)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "step_00000004.safetensors" in err
    assert not (fresh / layout.ANALYSES).exists()
