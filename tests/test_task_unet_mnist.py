"""The unet-mnist task: the tiny preset end to end, resume, samples, deterministic losses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from specdyn import open_run
from specdyn.data import DataError
from specdyn.errors import ConfigError
from specdyn.figures import error_label, plot_run
from specdyn.models import unet
from specdyn.tasks import unet_mnist
from specdyn.train import callbacks, train

CPU = torch.device("cpu")
TINY = unet_mnist.PRESETS["tiny"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Convolutions of a few channels gain nothing from threads; on a busy machine they
    lose a lot (spin-waiting), so these tests run on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_run(tiny_task_run):
    """A finished run of the tiny preset (8 steps, recorded every 2, 4 samples)."""
    return tiny_task_run("unet-mnist")


def test_tiny_run_end_to_end(tiny_run):
    run = open_run(tiny_run)
    assert run.config["task"] == "unet-mnist" and run.config["preset"] == "tiny"
    assert error_label(run.config) == "diffusion MSE"
    assert "synthetic" in run.config["data_source"]
    assert run.steps.tolist() == [0, 2, 4, 6, 8]
    assert set(run.history["split"]) == {"train", "val"}
    assert np.allclose(run.history["loss"], run.history["error"])  # both are the MSE
    assert {"conv1", "conv3", "conv4", "tconv1", "time_proj", "dense7"} <= set(run.matrices)
    expected = {pair.name for pair in unet.alignment_pairs(TINY.model)}
    assert expected <= set(run.pairs)
    assert not run.metrics.duplicated(["step", "matrix", "metric"]).any()
    samples = run.artifacts()["samples"]
    assert samples.shape == (4, 1, 28, 28)
    assert samples.min() >= 0.0 and samples.max() <= 1.0


def test_rerunning_a_finished_run_changes_nothing(tiny_run):
    before = open_run(tiny_run)
    metrics, history = before.metrics, before.history
    samples = before.artifacts()["samples"]
    train(TINY, tiny_run, CPU, progress=False)
    after = open_run(tiny_run)
    pd.testing.assert_frame_equal(after.metrics, metrics)
    pd.testing.assert_frame_equal(after.history, history)
    np.testing.assert_array_equal(after.artifacts()["samples"], samples)


def test_plots_include_the_samples(tiny_run, tmp_path):
    written = plot_run(open_run(tiny_run), tmp_path / "figures")
    names = {path.name for path in written}
    assert {"figure.png", "samples.png", "effective_rank.png"} <= names
    assert all(path.stat().st_size > 0 for path in written)


class Killed(Exception):
    pass


def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    """Batches, timesteps and noise are functions of (seed, step): resuming changes nothing."""
    cfg = dataclasses.replace(TINY, train=dataclasses.replace(TINY.train, state_every=2))
    reference = train(cfg, tmp_path / "reference", CPU, progress=False)
    real = callbacks.save_resume_state

    def crash_at_5(when):
        save = real(when)

        def callback(state):
            if state.step == 5:
                raise Killed  # the last saved state is step 4
            save(state)

        return callback

    monkeypatch.setattr(callbacks, "save_resume_state", crash_at_5)
    with pytest.raises(Killed):
        train(cfg, tmp_path / "crashed", CPU, progress=False)
    monkeypatch.undo()
    crashed = open_run(train(cfg, tmp_path / "crashed", CPU, progress=False))
    pd.testing.assert_frame_equal(crashed.history, open_run(reference).history)
    np.testing.assert_array_equal(
        crashed.artifacts()["samples"], open_run(reference).artifacts()["samples"]
    )


def test_training_batches_are_a_function_of_the_step():
    a, b = unet_mnist.build(TINY, CPU), unet_mnist.build(TINY, CPU)
    torch.testing.assert_close(a.loss(a.model, 3), b.loss(b.model, 3))
    assert a.loss(a.model, 3).item() != a.loss(a.model, 4).item()


def test_evaluation_is_deterministic():
    exp = unet_mnist.build(TINY, CPU)
    exp.model.eval()
    assert exp.evaluate(exp.model) == exp.evaluate(exp.model)


def test_unknown_source_is_a_data_error():
    cfg = dataclasses.replace(TINY, data=dataclasses.replace(TINY.data, source="cifar"))
    with pytest.raises(ConfigError, match="unknown data source"):
        unet_mnist.build(cfg, CPU)


def test_a_folder_without_mnist_says_to_pass_data_dir(tmp_path):
    data = dataclasses.replace(TINY.data, source="real", data_dir=str(tmp_path))
    with pytest.raises(DataError, match="--data-dir"):
        unet_mnist.build(dataclasses.replace(TINY, data=data), CPU)


def test_paper_preset_follows_appendix_a2():
    cfg = unet_mnist.PRESETS["paper"]
    assert cfg.model.channels == (64, 128, 256, 512) and cfg.model.embed_dim == 512
    assert (cfg.data.source, cfg.data.batch_size, cfg.data.timesteps) == ("real", 128, 1000)
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.weight_decay) == ("adamw", 3e-4, 0.0)
    assert cfg.train.steps == 100 * (60_000 // 128)
