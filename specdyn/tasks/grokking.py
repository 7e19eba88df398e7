"""Grokking: a + b mod p with a one-layer Transformer (paper Section 3, Fig. 2, App. A.6).

Nanda et al. (2023): the model is :mod:`specdyn.models.grokking`, the data
:mod:`specdyn.data.modular`. Loss at the last position, full batch AdamW lr 1e-3, betas
(0.9, 0.98), constant lr. The train/validation split follows ``data_seed``, which
follows ``seed`` unless set.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from specdyn.config.schema import OptimConfig, RecordConfig, RunConfig, TrainConfig
from specdyn.data.configs import GrokkingData
from specdyn.models.configs import GrokkingModel
from specdyn.tasks.base import Evaluation, Experiment, FigureChoices, Task, rescheduled

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

Config = RunConfig[GrokkingModel, GrokkingData]


def build(cfg: Config, device: torch.device) -> Experiment:
    import torch  # here, not above: the presets and `specdyn tasks` need no torch
    import torch.nn.functional as F

    from specdyn.config import seeding
    from specdyn.data.modular import modular_addition
    from specdyn.models.grokking import OneLayerTransformer, alignment_pairs

    seeding.seed_initialisation(cfg.seed)
    p = cfg.data.modulus
    model = OneLayerTransformer(p, cfg.model).to(device)
    # full batch: the data a run sees is its split, which follows the data order's seed
    splits = modular_addition(p, cfg.data.train_fraction, cfg.order_seed)
    splits = {k: (x.to(device), y.to(device)) for k, (x, y) in splits.items()}

    def loss(model: nn.Module, step: int) -> Tensor:
        x, y = splits["train"]  # full batch
        return F.cross_entropy(model(x), y)

    @torch.no_grad()
    def evaluate(model: nn.Module) -> Evaluation:
        out = {}
        for split, (x, y) in splits.items():
            logits = model(x)
            out[split] = {
                "loss": F.cross_entropy(logits, y).item(),
                "error": (logits.argmax(-1) != y).float().mean().item(),
            }
        return out

    source = f"modular addition mod {p}, {cfg.data.train_fraction:.0%} train (generated)"
    pairs = alignment_pairs(cfg.model, heads=cfg.record.heads)  # heads: also q<->k per head
    return Experiment(model, loss, evaluate, pairs, source)


def _preset(name: str, steps: int, every: int, **changes: Any) -> Config:
    data = GrokkingData(
        **{k: changes.pop(k) for k in ("modulus", "train_fraction") if k in changes}
    )
    model = GrokkingModel(**{k: changes.pop(k) for k in ("layer_norm",) if k in changes})
    optim = OptimConfig(name="adamw", lr=1e-3, betas=(0.9, 0.98), eps=1e-8)
    optim = dataclasses.replace(optim, **changes)
    train = TrainConfig(steps=steps, eval_every=every, state_every=10 * every)
    return RunConfig("grokking", name, model, data, optim, train, RecordConfig(every=every))


PRESETS: dict[str, Config] = {
    # Figure 2, rows 1-4 (Appendix A.6 and the authors' settings).
    "paper-nowd": _preset("paper-nowd", 40_000, 100, weight_decay=0.0),
    "paper-grok": _preset("paper-grok", 40_000, 100, weight_decay=1.0),
    "paper-slingshot": _preset(
        "paper-slingshot",
        100_000,
        100,
        modulus=97,
        train_fraction=0.7,
        weight_decay=0.0,
        layer_norm=True,
        warmup_steps=10,
    ),
    "paper-90": _preset("paper-90", 40_000, 100, train_fraction=0.9, weight_decay=0.0),
}

# cpu: the paper-grok recipe shrunk to finish in minutes on 2 CPU cores. p=59 (3,481 pairs
# instead of 12,769) makes a full-batch step ~4x cheaper; 50% train data and lr 3e-3 (from
# 1e-3) bring grokking forward from ~10k steps to ~1.5k. Weight decay stays 1.0, so train
# accuracy hits 100% hundreds of steps before validation accuracy jumps.
PRESETS["cpu"] = _preset(
    "cpu", 3_000, 25, modulus=59, train_fraction=0.5, lr=3e-3, weight_decay=1.0
)
# tiny: seconds, for tests.
PRESETS["tiny"] = dataclasses.replace(
    _preset("tiny", 20, 5, modulus=7, train_fraction=0.5, weight_decay=1.0),
    model=GrokkingModel(d_model=16, n_heads=2, d_mlp=32),
    record=RecordConfig(every=5, top_k=8),
)

TASK = Task(
    name="grokking",
    description="a + b mod p with a 1-layer Transformer (Section 3, Figure 2)",
    presets=PRESETS,
    default_preset="cpu",
    build=build,
    # Fig. 2: the first attention matrix; embedding -> attention.
    figures=FigureChoices("attn.in_proj_weight", "embed->attn.in_proj_weight"),
    full_batch=True,
    paper_preset="paper-grok",
    paper_figures=("2",),
    # 3,000 -> 1,200 steps, recorded and evaluated every 50
    cpu_scale=lambda cfg: rescheduled(cfg, 1200, every=50, eval_every=50, state_every=200),
)
