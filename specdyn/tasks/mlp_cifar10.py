"""An MLP fitting true or random labels on CIFAR-10 (paper Section 6, Figure 8, App. A.7).

3072 -> 256 -> 256 -> 256 -> 10 with ReLU, SGD with momentum 0.9 at a constant lr of 0.001
(no schedule, so that late memorisation is not conflated with lr decay), batch 128, 300
epochs, no weight decay, no augmentation. With ``labels="random"`` one fixed random
permutation of the training labels is applied before the 90/10 train/validation split, so
the validation labels are random too (the authors' code). The test split, evaluated only on
the real CIFAR-10, always keeps its true labels. The data lives in
:mod:`specdyn.data.images`.

The paper's observation: both runs reach zero training error, but with true labels the
inner matrices end up of much lower effective rank than with random labels.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from specdyn.config.schema import OptimConfig, RecordConfig, RunConfig, TrainConfig
from specdyn.data.configs import RandomLabelData, steps_per_epoch
from specdyn.models.configs import MLPConfig
from specdyn.tasks.base import Experiment, FigureChoices, Task, rescheduled, trained_for

if TYPE_CHECKING:
    import torch

PAPER_MODEL = MLPConfig()  # 3072 -> 256 -> 256 -> 256 -> 10

Config = RunConfig[MLPConfig, RandomLabelData]


def build(cfg: Config, device: torch.device) -> Experiment:
    from specdyn.config import seeding  # here, not above: the presets need no torch
    from specdyn.data.images import cifar_splits, relabelling
    from specdyn.models import mlp
    from specdyn.tasks.common import classifier_functions

    data = cfg.data
    relabel = relabelling(data)
    splits = cifar_splits(data, relabel)
    seeding.seed_initialisation(cfg.seed)
    model = mlp.MLP(cfg.model).to(device)
    loss, evaluate = classifier_functions(splits, data.batch_size, cfg.order_seed, device)
    labels = "true labels" if relabel is None else "random train/val labels (one fixed permutation)"
    return Experiment(
        model, loss, evaluate, mlp.alignment_pairs(cfg.model), f"{splits.description}, {labels}"
    )


def _preset(
    name: str,
    data: RandomLabelData,
    n_train: int,
    epochs: int,
    record_every: int,
    lr: float = 1e-3,
    model: MLPConfig = PAPER_MODEL,
) -> Config:
    """Appendix A.7's optimisation for ``epochs``; evaluated every epoch, recorded every
    ``record_every`` epochs."""
    per_epoch = steps_per_epoch(n_train, data.batch_size)  # drops the last partial batch
    optim = OptimConfig(name="sgd", lr=lr, momentum=0.9, weight_decay=0.0, schedule="constant")
    train = TrainConfig(steps=epochs * per_epoch, eval_every=per_epoch, state_every=per_epoch)
    record = RecordConfig(every=record_every * per_epoch)
    return RunConfig("mlp-cifar10", name, model, data, optim, train, record)


# paper: 45,000 train images (90% of 50,000) -> 351 steps per epoch, 105,300 steps,
# evaluated every epoch and recorded every 2 epochs (151 recorded steps).
_PAPER = RandomLabelData()
PRESETS: dict[str, Config] = {
    "paper": _preset("paper", _PAPER, 45_000, 300, 2),
    "paper-random": _preset(
        "paper-random", dataclasses.replace(_PAPER, labels="random"), 45_000, 300, 2
    ),
}
# cpu: 5,000 Fashion-MNIST stand-in images (1,000 evaluated per split) and hidden width 64,
# so that 5,000 random labels are about as hard to memorise for 64 units as 45,000 are for
# 256. lr 0.01 instead of 0.001 (raised for the CPU): 300 epochs of 39 steps at 0.01 move
# the weights about as far (lr x steps = 117) as the paper's 105,300 steps at 0.001 (105).
_CPU = RandomLabelData(source="standin", train_size=5_000, eval_size=1_000)
_SMALL = MLPConfig(widths=(3072, 64, 64, 64, 10))
PRESETS["cpu"] = _preset("cpu", _CPU, 5_000, 300, 5, lr=0.01, model=_SMALL)
PRESETS["cpu-random"] = _preset(
    "cpu-random", dataclasses.replace(_CPU, labels="random"), 5_000, 300, 5, lr=0.01, model=_SMALL
)
# tiny: seconds, synthetic images, hidden width 32, for tests.
PRESETS["tiny"] = dataclasses.replace(
    _preset(
        "tiny",
        RandomLabelData(source="synthetic", labels="random", batch_size=32, train_size=128),
        128,
        3,
        1,
        model=MLPConfig(widths=(3072, 32, 32, 32, 10)),
    ),
    record=RecordConfig(every=4, top_k=8),
)

TASK = Task(
    name="mlp-cifar10",
    description="MLP on CIFAR-10 with true or random labels (Section 6, Appendix A.7)",
    presets=PRESETS,
    default_preset="cpu",
    build=build,
    # the middle of the network, as in Fig. 8.
    figures=FigureChoices("layers.1", "layers.1->layers.2"),
    lottery_matrix="layers.1",
    data_facts=(("model.widths", 0, 3 * 32 * 32), ("model.widths", -1, 10)),  # 32x32x3, 10
    paper_figures=("8", "4", "10", "14-pruned"),
    # 300 -> 200 epochs (7,800 steps), evaluated every 2 epochs
    cpu_scale=lambda cfg: rescheduled(cfg, 7800, every=390, eval_every=78, state_every=390),
    checkpoint_trunk_scale=trained_for(780),  # 20 epochs of 39 steps
    lmc_trunk_scale=trained_for(195),  # 5 epochs: the last split is at epoch 3
)
