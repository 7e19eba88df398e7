"""The vgg16-cifar10 task: its data pipeline, its presets, and the tiny preset end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import file_times

from specdyn import open_run
from specdyn.data import DataError
from specdyn.data import images as data
from specdyn.errors import ConfigError
from specdyn.figures import figure_choices, plot_run
from specdyn.models import vgg
from specdyn.tasks import vgg16_cifar10 as task
from specdyn.train import train

CPU = torch.device("cpu")


def test_tiny_preset_end_to_end(tmp_path, tiny_task_run):
    cfg = task.PRESETS["tiny"]
    run_dir = tiny_task_run("vgg16-cifar10")
    run = open_run(run_dir)
    assert run.steps.tolist() == [0, 4, 8, 12]
    assert set(run.history["split"]) == {"train", "val"}  # no test split without real data
    assert set(run.history["step"]) == {0, 4, 8, 12}
    assert [f"convs.{i}" for i in range(13)] + ["fc"] == run.matrices
    assert {p.name for p in vgg.alignment_pairs(cfg.model)} == set(run.pairs)
    assert "figures" not in run.config  # figure choices are not training's business
    assert figure_choices(run.config)["matrix"] == "convs.11"
    assert figure_choices(run.config)["pair"] == "convs.10->convs.11"
    assert run.config["data_source"].startswith("synthetic")
    ranks = run.metrics.query("metric == 'normalized_effective_rank'")["value"]
    assert ranks.between(0, 1).all() and len(ranks) == 4 * 14
    assert np.isfinite(run.history[["loss", "error"]].to_numpy()).all()

    before = file_times(run_dir)
    train(cfg, run_dir, CPU, progress=False)  # finished: a rerun changes nothing
    after = file_times(run_dir)
    assert before == after

    written = plot_run(open_run(run_dir), tmp_path / "figures")
    assert all(p.stat().st_size > 0 for p in written)


def test_split_is_torch_random_split_seeded_42():
    x, y = torch.arange(1000), torch.arange(1000) % 10
    (x_train, y_train), (x_val, y_val) = data.split_train_val(x, y, 0.1, 42)
    ref_train, ref_val = torch.utils.data.random_split(
        range(1000), [900, 100], generator=torch.Generator().manual_seed(42)
    )
    assert x_train.tolist() == list(ref_train) and x_val.tolist() == list(ref_val)
    assert torch.equal(y_val, x_val % 10)
    with pytest.raises(ConfigError, match="val_fraction"):
        data.split_train_val(x, y, 1.0, 42)


def test_channel_stats_normalise_the_training_images():
    splits = data.cifar_splits(data.CifarData(source="synthetic", train_size=200))
    x = splits.train[0].float() / 255
    z = (x - splits.mean[:, None, None]) / splits.std[:, None, None]
    np.testing.assert_allclose(z.mean(dim=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(dim=(0, 2, 3)), 1, atol=1e-3)
    assert len(splits.train[0]) == 200 and set(splits.evaluated) == {"train", "val"}


def _write_cifar_binary(root, per_batch: int = 20) -> None:
    """A miniature CIFAR-10 in the official binary layout (1 label byte + 3,072 pixels)."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        labels = rng.integers(0, 10, (per_batch, 1), dtype=np.uint8)
        pixels = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        np.concatenate([labels, pixels], axis=1).tofile(folder / name)


def test_real_source_reads_data_dir_and_evaluates_the_test_split(tmp_path):
    _write_cifar_binary(tmp_path)
    splits = data.cifar_splits(data.CifarData(source="real", data_dir=str(tmp_path)))
    assert splits.description == "CIFAR-10, 90 train / 10 val, 20 test"
    assert set(splits.evaluated) == {"train", "val", "test"}
    assert splits.train[0].shape == (90, 3, 32, 32) and splits.train[0].dtype == torch.uint8


def test_missing_real_data_says_to_pass_data_dir(tmp_path):
    with pytest.raises(DataError, match="--data-dir"):
        data.cifar_splits(data.CifarData(source="real", data_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="unknown data source"):
        data.cifar_splits(data.CifarData(source="imagenet"))


def test_evaluation_uses_batchnorm_statistics_and_keeps_the_mode():
    cfg = task.PRESETS["tiny"]
    exp = task.build(cfg, CPU)
    exp.model.train()
    stats = [n.running_mean.clone() for n in exp.model.norms]
    first = exp.evaluate(exp.model)
    assert exp.model.training  # the mode is restored
    assert all(torch.equal(a, n.running_mean) for a, n in zip(stats, exp.model.norms, strict=True))
    assert first == exp.evaluate(exp.model)
    assert torch.equal(exp.loss(exp.model, 3), exp.loss(exp.model, 3))  # batches by step


def test_paper_preset_is_appendix_a1():
    cfg = task.PRESETS["paper"]
    per_epoch = 45_000 // 128
    assert cfg.model == vgg.VGGConfig(width=1.0, num_classes=10)
    assert (cfg.data.source, cfg.data.batch_size, cfg.data.split_seed) == ("real", 128, 42)
    assert (cfg.data.val_fraction, cfg.data.train_size, cfg.data.eval_size) == (0.1, 0, 0)
    o = cfg.optim
    assert (o.name, o.lr, o.momentum, o.weight_decay, o.schedule) == ("sgd", 0.1, 0.9, 1e-4, "step")
    assert o.milestones == (82 * per_epoch, 120 * per_epoch, 160 * per_epoch) and o.gamma == 0.1
    assert cfg.train.steps == 164 * per_epoch == 57_564


def test_cpu_preset_keeps_the_schedule_shape():
    paper, cpu = task.PRESETS["paper"], task.PRESETS["cpu"]
    assert (cpu.optim.lr, cpu.optim.momentum, cpu.optim.gamma) == (0.1, 0.9, 0.1)
    # weight decay is raised so that lr x weight decay x steps stays near the paper's
    decay = [o.lr * o.weight_decay * o.milestones[0] for o in (cpu.optim, paper.optim)]
    assert 0.5 < decay[0] / decay[1] < 1.5
    fractions = [m / cpu.train.steps for m in cpu.optim.milestones]
    paper_fractions = [m / paper.train.steps for m in paper.optim.milestones]
    np.testing.assert_allclose(fractions, paper_fractions, atol=0.03)
    assert task.TASK.default_preset == "cpu" and cpu.data.source == "standin"
