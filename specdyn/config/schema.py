"""Typed, frozen configuration: one dataclass per concern.

A task adds its own ``model`` and ``data`` dataclasses; everything else is shared.
``RunConfig`` is generic over them: a task's build takes, say,
``RunConfig[VGGConfig, CifarData]``, so a type checker follows ``cfg.model.width``. Presets
are named ``RunConfig`` instances, changed only through ``dataclasses.replace`` (see
:mod:`specdyn.config.overrides`); the seeding policy is :mod:`specdyn.config.seeding`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from specdyn.config.rules import (
    ANY,
    COUNT,
    SEED,
    SIZE,
    STEP,
    STEPS,
    Items,
    Maybe,
    OneOf,
    Range,
    Text,
)

ModelT = TypeVar("ModelT")  # the task's model dataclass
DataT = TypeVar("DataT")  # the task's data dataclass


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer and learning-rate schedule.

    name: "adamw" or "sgd". schedule: "constant", "cosine" (to ``final_lr_fraction`` of
    lr) or "step" (x ``gamma`` at each of ``milestones``, in steps). warmup_steps: linear
    warmup from 0. grad_clip: max global gradient norm, 0 for none.
    """

    name: Annotated[str, OneOf(("adamw", "sgd"))] = "adamw"
    lr: Annotated[float, Range(0, open_low=True)] = 1e-3
    betas: Annotated[tuple[float, float], Items(Range(0, 1, open_high=True), 2, 2)] = (0.9, 0.999)
    eps: Annotated[float, Range(0, open_low=True)] = 1e-8
    momentum: Annotated[float, Range(0, 1, open_high=True)] = 0.0
    weight_decay: Annotated[float, Range(0)] = 0.0
    schedule: Annotated[str, OneOf(("constant", "cosine", "step"))] = "constant"
    warmup_steps: Annotated[int, STEP] = 0
    final_lr_fraction: Annotated[float, Range(0, 1)] = 0.0
    milestones: Annotated[tuple[int, ...], Items(STEPS)] = ()
    gamma: Annotated[float, Range(0, open_low=True)] = 0.1
    grad_clip: Annotated[float, Range(0)] = 0.0  # 0: no clipping


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

    steps: Annotated[int, STEPS] = 1000
    # the error curve needs evaluations; = steps: first and last only
    eval_every: Annotated[int, STEPS] = 100
    # 0: resume state at the end only (a killed run starts over)
    state_every: Annotated[int, STEP] = 500
    checkpoint_every: Annotated[int, STEP] = 0  # 0: the final weights only
    checkpoint_at: Annotated[tuple[int, ...], Items(STEP)] = ()
    bf16: Annotated[bool, ANY] = False
    state_at: Annotated[tuple[int, ...], Items(STEP)] = ()


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

    every: Annotated[int, STEP] = 100  # 0: only `at` / `log_points` (checked below)
    at: Annotated[tuple[int, ...], Items(STEP)] = ()
    log_points: Annotated[int, STEP] = 0
    top_k: Annotated[int, SIZE] = 100
    heads: Annotated[bool, ANY] = False
    vector_dtype: Annotated[str, OneOf(("float32", "float16", "bfloat16"))] = "float32"
    vector_points: Annotated[int, COUNT] = 20
    # user-defined metrics: module:function or a name
    metrics: Annotated[tuple[str, ...], Items(Text(nonempty=True))] = ()


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
    seed: Annotated[int, SEED] = 0
    data_seed: Annotated[int | None, Maybe(SEED)] = None

    @property
    def order_seed(self) -> int:
        """The seed of the training data order: ``data_seed``, else ``seed``."""
        return self.seed if self.data_seed is None else self.data_seed
