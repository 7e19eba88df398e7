"""Typed, frozen configuration: one dataclass per concern.

A task adds its own ``model`` and ``data`` dataclasses; everything else is shared.
``RunConfig`` is generic over them: a task's build takes, say,
``RunConfig[VGGConfig, CifarData]``, so a type checker follows ``cfg.model.width``. Presets
are named ``RunConfig`` instances, changed only through ``dataclasses.replace`` (see
:mod:`specdyn.config.overrides`); the seeding policy is :mod:`specdyn.config.seeding`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

ModelT = TypeVar("ModelT")  # the task's model dataclass
DataT = TypeVar("DataT")  # the task's data dataclass


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer and learning-rate schedule.

    name: "adamw" or "sgd". schedule: "constant", "cosine" (to ``final_lr_fraction`` of
    lr) or "step" (x ``gamma`` at each of ``milestones``, in steps). warmup_steps: linear
    warmup from 0. grad_clip: max global gradient norm, 0 for none.
    """

    name: str = "adamw"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    final_lr_fraction: float = 0.0
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    grad_clip: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    """Length of training and the evaluation / checkpoint cadence, in optimizer steps.

    state_every: how often the resume state is saved (a killed run loses at most this
    many steps). checkpoint_every / checkpoint_at: weights-only checkpoints that
    experiments branch from; the final step is always saved. bf16: mixed precision, the
    loss and evaluation under bfloat16 autocast on CUDA (weights, optimizer state and the
    recorded SVDs stay float32); ignored on CPU, where the run stays float32.
    state_at: steps at which a full training state (model, optimizer, schedule, RNG) is
    kept in ``RUN/states/`` for branches (lottery rewinding, linear mode connectivity).
    """

    steps: int = 1000
    eval_every: int = 100
    state_every: int = 500
    checkpoint_every: int = 0
    checkpoint_at: tuple[int, ...] = ()
    bf16: bool = False
    state_at: tuple[int, ...] = ()


@dataclass(frozen=True)
class RecordConfig:
    """What the recorder stores and when (every / at / log_points: see Schedule).

    top_k: singular vectors kept per matrix (never more than its rank, min(m, n)). heads:
    also per-head attention blocks. vector_dtype: "float32" or "float16" storage of
    singular vectors. vector_points: singular vectors are written at every recorded step
    while the run is live; once the finish has computed the agreement (Eq. 5) from all of
    them, they are kept at only this many recorded steps, evenly spread over the schedule,
    the first and last recorded steps included (0 keeps them at every step). Singular
    values, metrics, alignments and the agreement stay at every recorded step.
    metrics: user-defined metrics recorded besides the built-in ones, as specs
    ("module:function", or a name in the ``specdyn.metrics`` entry-point group; see
    :mod:`specdyn.record.custom`).
    """

    every: int = 100
    at: tuple[int, ...] = ()
    log_points: int = 0
    top_k: int = 100
    heads: bool = False
    vector_dtype: str = "float32"
    vector_points: int = 20
    metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunConfig(Generic[ModelT, DataT]):
    """Everything that defines a run. ``model`` and ``data`` are the task's dataclasses.

    seed: initialisation (and, unless ``data_seed`` is set, the order of training data).
    data_seed: the training data seen, in order (minibatches, per-step noise, grokking's
    train/validation split) when set; None follows ``seed``. Setting it separates "same
    initialisation, different data order" from "different initialisation, same data
    order". The whole policy: :mod:`specdyn.config.seeding`.
    """

    task: str
    preset: str
    model: ModelT
    data: DataT
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    record: RecordConfig = RecordConfig()
    seed: int = 0
    data_seed: int | None = None

    @property
    def order_seed(self) -> int:
        """The seed of the training data order: ``data_seed``, else ``seed``."""
        return self.seed if self.data_seed is None else self.data_seed
