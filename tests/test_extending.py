"""The recipes of docs/extending.md, followed with toy examples defined here, each run through
the command line: a metric (one function) and a task (a model, its data and its presets)."""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass

import torch
from torch import nn

from specdyn import open_run
from specdyn.cli.main import main
from specdyn.config.schema import OptimConfig, RecordConfig, RunConfig, TrainConfig
from specdyn.spectral.pairs import Pair
from specdyn.tasks.base import Experiment, Task
from specdyn.tasks.registry import TASKS


@dataclass(frozen=True)
class ToyModel:
    """A two-layer MLP: ``width`` hidden units."""

    width: int = 16


@dataclass(frozen=True)
class ToyData:
    """Random inputs of ``dim`` features, labels from a fixed linear teacher."""

    n: int = 64
    dim: int = 8


def build(cfg: RunConfig, device: torch.device) -> Experiment:
    g = torch.Generator().manual_seed(cfg.seed)
    x = torch.randn(cfg.data.n, cfg.data.dim, generator=g)
    y = (x @ torch.randn(cfg.data.dim, 3, generator=g)).argmax(1)
    torch.manual_seed(cfg.seed)
    model = nn.Sequential(
        nn.Linear(cfg.data.dim, cfg.model.width), nn.ReLU(), nn.Linear(cfg.model.width, 3)
    ).to(device)

    def loss(model: nn.Module, step: int) -> torch.Tensor:
        return nn.functional.cross_entropy(model(x), y)

    def evaluate(model: nn.Module) -> dict[str, dict[str, float]]:
        with torch.no_grad():
            logits = model(x)
        error = (logits.argmax(1) != y).float().mean().item()
        return {"train": {"loss": nn.functional.cross_entropy(logits, y).item(), "error": error}}

    return Experiment(model, loss, evaluate, [Pair("0", "2")], data_source="random (toy)")


PRESETS = {
    "tiny": RunConfig(
        "toy",
        "tiny",
        ToyModel(),
        ToyData(),
        OptimConfig(name="sgd", lr=0.1),
        TrainConfig(steps=20, eval_every=5, state_every=10),
        RecordConfig(every=5, top_k=3),
    )
}
TOY = Task("toy", "a two-layer MLP on random data", PRESETS, "tiny", build)


def test_a_task_of_three_definitions_and_one_registry_line_runs_from_the_cli(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(TASKS, TOY.name, TOY)  # the recipe's one line in tasks/registry.py
    out = tmp_path / "runs"
    argv = ["run", "toy", "--out", str(out), "--no-progress", "--threads", "1"]
    assert main(argv + ["--set", "width=12"]) == 0
    run_dir = next(out.iterdir())
    run = open_run(run_dir)
    assert run.steps.tolist() == [0, 5, 10, 15, 20] and run.matrices == ["0", "2"]
    assert run.pairs == ["0->2"] and run.config["model"]["width"] == 12
    assert main(["show", str(run_dir)]) == 0
    assert "random (toy)" in capsys.readouterr().out
    assert main(["plot", str(run_dir)]) == 0
    assert any((run_dir / "figures").glob("*.png"))


def test_a_metric_of_one_function_is_recorded_from_the_cli(tmp_path, monkeypatch):
    (tmp_path / "toymetrics.py").write_text(
        textwrap.dedent(
            """
            def top1_share(sp):
                return float(sp.s[0] / sp.s.sum())
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(TASKS, TOY.name, TOY)
    out = tmp_path / "runs"
    argv = ["run", "toy", "--out", str(out), "--no-progress", "--threads", "1"]
    assert main(argv + ["--metric", "toymetrics:top1_share"]) == 0
    run = open_run(next(out.iterdir()))
    shares = run.metrics.query("metric == 'top1_share'")
    assert len(shares) == 5 * 2 and shares["value"].between(0, 1).all()
    sys.modules.pop("toymetrics", None)
