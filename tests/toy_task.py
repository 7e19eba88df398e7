"""The toy task of tests/test_extending.py, in a module of its own so that worker processes
(a sweep's points) can import it too, as they would an installed package's task: a
two-layer MLP on random data."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from specdyn.config.schema import OptimConfig, RecordConfig, RunConfig, TrainConfig
from specdyn.spectral.pairs import Pair
from specdyn.tasks.base import Experiment, Task


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
