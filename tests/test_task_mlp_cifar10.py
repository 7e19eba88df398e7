"""The mlp-cifar10 task: random labels, its presets, and the tiny preset end to end."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import file_times

from specdyn import open_run
from specdyn.data import images
from specdyn.errors import ConfigError
from specdyn.figures import compare_runs, plot_run
from specdyn.figures.panels import figure_matrix
from specdyn.models import mlp
from specdyn.tasks import mlp_cifar10 as task
from specdyn.train import train

CPU = torch.device("cpu")


def test_tiny_presets_end_to_end_and_compared(tmp_path, tiny_task_run):
    random_cfg = task.PRESETS["tiny"]
    true_cfg = dataclasses.replace(
        random_cfg, data=dataclasses.replace(random_cfg.data, labels="true")
    )
    true_dir = train(true_cfg, tmp_path / "true", CPU, progress=False)
    runs = [open_run(true_dir), open_run(tiny_task_run("mlp-cifar10"))]
    run = runs[1]
    assert run.steps.tolist() == [0, 4, 8, 12]
    assert set(run.history["split"]) == {"train", "val"}
    assert run.matrices == ["layers.0", "layers.1", "layers.2", "layers.3"]
    assert {p.name for p in mlp.alignment_pairs(random_cfg.model)} == set(run.pairs)
    assert figure_matrix(run) == "layers.1"
    assert "random train/val labels" in run.config["data_source"]
    assert "true labels" in runs[0].config["data_source"]
    assert not runs[0].history.equals(run.history)

    before = file_times(run.path)
    train(random_cfg, run.path, CPU, progress=False)  # finished: a rerun changes nothing
    assert before == file_times(run.path)

    assert all(p.stat().st_size > 0 for p in plot_run(run, tmp_path / "figures"))
    figure = compare_runs(runs, tmp_path / "compare.png", ["true labels", "random labels"])
    assert figure.stat().st_size > 0


def test_permuted_labels_keep_class_counts():
    y = torch.arange(1000) % 10
    shuffled = images.permute_labels(y, seed=0)
    assert torch.equal(shuffled, images.permute_labels(y, seed=0))  # one fixed relabelling
    assert torch.equal(torch.bincount(shuffled), torch.bincount(y))
    assert (shuffled != y).float().mean() > 0.8


def test_random_labels_are_drawn_before_the_split():
    """The split does not depend on the labels, and the validation labels are random too."""
    data = images.RandomLabelData(source="synthetic")
    true = images.cifar_splits(data)
    rand = images.cifar_splits(data, lambda y: images.permute_labels(y, 0))
    for split in ("train", "val"):
        assert torch.equal(true.evaluated[split][0], rand.evaluated[split][0])
        assert (true.evaluated[split][1] != rand.evaluated[split][1]).float().mean() > 0.7
    all_labels = images.load_images(data)[0]["train"][1]
    expected = images.permute_labels(all_labels, 0)
    _, (_, val_labels) = images.split_train_val(all_labels, expected, 0.1, 42)
    assert torch.equal(rand.evaluated["val"][1], val_labels)


def test_unknown_labels_are_refused():
    cfg = task.PRESETS["tiny"]
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, labels="noisy"))
    with pytest.raises(ConfigError, match="unknown labels 'noisy'"):
        task.build(cfg, CPU)


def test_paper_presets_are_appendix_a7():
    true, rand = task.PRESETS["paper"], task.PRESETS["paper-random"]
    assert (true.data.labels, rand.data.labels) == ("true", "random")
    assert dataclasses.replace(rand, preset="paper", data=true.data) == true
    assert true.model.widths == (3072, 256, 256, 256, 10)
    o = true.optim
    assert (o.name, o.lr, o.momentum, o.weight_decay, o.schedule) == (
        "sgd",
        1e-3,
        0.9,
        0.0,
        "constant",
    )
    assert (true.data.source, true.data.batch_size, true.data.split_seed) == ("real", 128, 42)
    assert true.train.steps == 300 * (45_000 // 128)


def test_cpu_presets_differ_only_in_labels():
    cpu, rand = task.PRESETS["cpu"], task.PRESETS["cpu-random"]
    assert (cpu.data.labels, rand.data.labels) == ("true", "random")
    assert dataclasses.replace(rand, preset="cpu", data=cpu.data) == cpu
    assert task.TASK.default_preset == "cpu" and cpu.data.source == "standin"
    assert np.isclose(cpu.optim.momentum, 0.9) and cpu.optim.schedule == "constant"
