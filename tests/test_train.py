"""The training loop: determinism, resume after a kill, and the tiny grokking run end to end."""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from forked import start_cli

from specdyn import open_run
from specdyn.cli.main import main
from specdyn.config import apply_overrides
from specdyn.tasks import get_preset
from specdyn.train import callbacks, loop, train

CPU = torch.device("cpu")


def _tiny(**overrides):
    return apply_overrides(
        get_preset("grokking", "tiny"), [f"{k}={v}" for k, v in overrides.items()]
    )


def test_tiny_run_end_to_end(tiny_run):
    run = open_run(tiny_run)
    assert run.config["task"] == "grokking" and run.config["preset"] == "tiny"
    assert run.config["environment"]["versions"]["torch"] == torch.__version__
    assert run.steps.tolist() == [0, 5, 10, 15, 20]
    assert set(run.history["split"]) == {"train", "val"}
    assert run.history.groupby("split").size().tolist() == [5, 5]
    names = set(run.metrics["matrix"])
    assert {"embed", "attn.in_proj_weight", "mlp.fc_in", "mlp.fc_out", "unembed"} <= names
    assert "embed->attn.in_proj_weight" in run.pairs
    # every (step, matrix, metric) once
    assert not run.metrics.duplicated(["step", "matrix", "metric"]).any()
    steps, s = run.singular_values("attn.in_proj_weight")
    assert s.shape == (5, 16) and np.all(np.diff(s, axis=1) <= 1e-6)  # descending
    steps, agreement = run.agreement("mlp.fc_in")
    np.testing.assert_allclose(agreement[-1], 1.0, atol=1e-5)  # the final step agrees with itself
    assert run.checkpoint_steps == [20]


def test_recorded_values_match_the_checkpoint(tiny_run):
    """The stored spectrum at the last step is the SVD of the saved weights (float64 numpy)."""
    run = open_run(tiny_run)
    W = run.checkpoint(20)["mlp.fc_in.weight"].double().numpy()
    _, s = run.singular_values("mlp.fc_in")
    np.testing.assert_allclose(s[-1], np.linalg.svd(W, compute_uv=False), rtol=1e-4)
    rank = run.metrics.query("step == 20 and matrix == 'mlp.fc_in' and metric == 'effective_rank'")
    p = s[-1] / s[-1].sum()
    np.testing.assert_allclose(rank["value"].item(), np.exp(-(p * np.log(p)).sum()), rtol=1e-5)


def test_seeded_runs_are_deterministic(tmp_path):
    cfg = _tiny(steps=10)
    a, b = tmp_path / "a", tmp_path / "b"
    train(cfg, a, CPU, progress=False)
    train(cfg, b, CPU, progress=False)
    pd.testing.assert_frame_equal(open_run(a).metrics, open_run(b).metrics)
    pd.testing.assert_frame_equal(open_run(a).history, open_run(b).history)


def test_bf16_is_float32_on_cpu(tmp_path):
    """Mixed precision applies on CUDA only: on CPU the run equals a float32 run."""
    cfg = _tiny(steps=10)
    train(cfg, tmp_path / "a", CPU, progress=False)
    train(_tiny(steps=10, bf16="true"), tmp_path / "b", CPU, progress=False)
    a, b = open_run(tmp_path / "a"), open_run(tmp_path / "b")
    assert b.config["train"]["bf16"] is True
    assert b.config["environment"]["precision"] == "float32"
    pd.testing.assert_frame_equal(a.history, b.history)


def test_bf16_autocast_on_cuda():
    assert isinstance(loop.autocast(False, torch.device("cuda"))(), contextlib.nullcontext)
    with warnings.catch_warnings():  # a machine without CUDA warns and disables it
        warnings.simplefilter("ignore")
        ctx = loop.autocast(True, torch.device("cuda"))()
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16


class Killed(Exception):
    pass


def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    cfg = _tiny(steps=20, state_every=5)
    reference = tmp_path / "reference"
    train(cfg, reference, CPU, progress=False)

    real = callbacks.save_resume_state

    def crash_after_12(when):
        save = real(when)

        def callback(state):
            if state.step == 12:
                raise Killed  # dies after step 12's record; its last state is step 10
            save(state)

        return callback

    crashed = tmp_path / "crashed"
    monkeypatch.setattr(callbacks, "save_resume_state", crash_after_12)
    with pytest.raises(Killed):
        train(
            dataclasses.replace(cfg, record=dataclasses.replace(cfg.record, every=3)),
            crashed,
            CPU,
            progress=False,
        )
    monkeypatch.undo()
    # the folder now holds records up to step 12 but resume state only at step 10
    assert open_run(crashed).steps.max() == 12
    train(
        dataclasses.replace(cfg, record=dataclasses.replace(cfg.record, every=3)),
        crashed,
        CPU,
        progress=False,
    )
    run = open_run(crashed)
    assert run.steps.tolist() == [0, 3, 6, 9, 12, 15, 18, 20]
    assert not run.metrics.duplicated(["step", "matrix", "metric"]).any()
    assert not run.history.duplicated(["step", "split"]).any()
    ref_hist = open_run(reference).history
    pd.testing.assert_frame_equal(run.history, ref_hist)


def test_rerunning_a_finished_run_changes_nothing(tiny_run):
    before = open_run(tiny_run).metrics
    train(get_preset("grokking", "tiny"), tiny_run, CPU, progress=False)
    pd.testing.assert_frame_equal(open_run(tiny_run).metrics, before)


def test_a_folder_with_another_config_is_refused(tiny_run):
    from specdyn.errors import RunStoreError

    with pytest.raises(RunStoreError, match="different config"):
        train(_tiny(weight_decay=0.5), tiny_run, CPU, progress=False)


def test_a_run_made_before_a_field_existed_still_resumes(tiny_run, tmp_path):
    """Fields added to the config later (here data_seed and train.state_at) count at their
    defaults, as in the run hash, so the same command keeps finding and resuming old runs."""
    import json
    import shutil

    from specdyn.errors import RunStoreError

    old = shutil.copytree(tiny_run, tmp_path / "old")
    config = json.loads((old / "config.json").read_text())
    del config["data_seed"], config["train"]["state_at"]
    (old / "config.json").write_text(json.dumps(config))
    before = open_run(old).metrics
    train(get_preset("grokking", "tiny"), old, CPU, progress=False)
    pd.testing.assert_frame_equal(open_run(old).metrics, before)
    with pytest.raises(RunStoreError, match="different config"):  # a real difference still is one
        train(_tiny(weight_decay=0.5), old, CPU, progress=False)


def test_a_run_finished_before_vector_points_existed_keeps_its_vectors(tiny_run, tmp_path):
    """The finish thins vectors to record.vector_points only in runs whose saved config
    names the field: a finished run made before it existed keeps every vector it has."""
    import json
    import shutil

    from specdyn.store.writer import RunWriter
    from specdyn.tasks import registry

    old = shutil.copytree(tiny_run, tmp_path / "old")
    cfg = _tiny(vector_points=2)
    exp = registry.get_task("grokking").build(cfg, CPU)
    with RunWriter(old) as writer:
        assert loop._recorder(cfg, writer, exp).vector_points == 2
    config = json.loads((old / "config.json").read_text())
    del config["record"]["vector_points"]
    (old / "config.json").write_text(json.dumps(config))
    with RunWriter(old) as writer:
        assert loop._recorder(cfg, writer, exp).vector_points == 0
    train(get_preset("grokking", "tiny"), old, CPU, progress=False)
    assert open_run(old).vector_steps == open_run(tiny_run).vector_steps == [0, 5, 10, 15, 20]


def test_sigkill_then_rerun_resumes(tmp_path, capsys):
    """A real kill -9 of the CLI, then the same command again. While the first process
    runs, a second one on the same folder is refused with one line naming its PID."""
    argv = [
        "run",
        "grokking",
        "--preset",
        "tiny",
        "--set",
        "steps=200",
        "--set",
        "state_every=20",
        "--set",
        "every=20",
        "--set",
        "eval_every=20",
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
    ]
    proc = start_cli(argv, tmp_path / "stderr")
    try:
        deadline = time.time() + 120
        while not list(tmp_path.glob("out/*/state.pt")) and time.time() < deadline:
            time.sleep(0.05)
        (run_dir,) = (tmp_path / "out").iterdir()
        second = main(argv)  # this test's own process, while the first one writes
        err = capsys.readouterr().err
        alive = proc.is_alive()
    finally:
        proc.kill()
        proc.join()
    assert alive  # the first process held the folder when the second one came
    assert second == 2 and err.count("\n") == 1
    assert f"run folder '{run_dir}' is being written by another process (PID {proc.pid})" in err
    assert main(argv) == 0  # the lock died with the killed process
    run = open_run(run_dir)
    assert run.steps.tolist() == list(range(0, 201, 20))
    assert not run.metrics.duplicated(["step", "matrix", "metric"]).any()
    assert run.history.groupby("split").size().tolist() == [11, 11]
