"""Callbacks of the closed training loop. Each is ``callback(state) -> None``, run at every
step before the update (so step t sees the model after t updates), and each decides for
itself, through a Schedule, whether that step is its business."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from specdyn.record.recorder import Recorder
from specdyn.record.schedule import Schedule
from specdyn.store.writer import RunWriter
from specdyn.tasks.base import Evaluation
from specdyn.train.interrupt import StopRequest
from specdyn.train.memory import release_free_memory
from specdyn.train.state import Optimizer, Scheduler, full_state, save_state


@dataclass
class TrainState:
    step: int
    model: nn.Module
    optimizer: Optimizer
    scheduler: Scheduler
    writer: RunWriter
    last: Evaluation = field(default_factory=dict)  # the latest evaluation
    stop: StopRequest = field(default_factory=StopRequest)  # set by SIGINT / SIGTERM
    # writes what is still in flight (a record copied from the device) before a state
    flush: Callable[[], None] = field(default=lambda: None)


Callback = Callable[[TrainState], None]


def evaluate(fn: Callable[[nn.Module], Evaluation], when: Schedule) -> Callback:
    """Evaluate every split and append the history table."""

    def callback(state: TrainState) -> None:
        if state.step not in when:
            return
        state.model.eval()
        state.last = fn(state.model)
        rows = [{"step": state.step, "split": split, **v} for split, v in state.last.items()]
        state.writer.history.add(rows)
        state.writer.history.flush()

    return callback


def record(recorder: Recorder) -> Callback:
    """Record spectra on the recorder's own schedule."""

    def callback(state: TrainState) -> None:
        recorder.step(state.step, state.model)

    return callback


def checkpoint(when: Schedule) -> Callback:
    """Weights-only checkpoints that experiments branch from."""

    def callback(state: TrainState) -> None:
        if state.step in when:
            state.writer.write_checkpoint(state.step, state.model.state_dict())

    return callback


def save_resume_state(when: Schedule) -> Callback:
    """The resume state; runs last so that everything up to this step is on disk."""

    def callback(state: TrainState) -> None:
        if state.step in when:
            state.flush()
            done = state.step == when.last
            save_state(
                state.writer, state.step, state.model, state.optimizer, state.scheduler, done
            )

    return callback


def keep_state(at: tuple[int, ...]) -> Callback:
    """Full training states kept at the steps ``at`` (``RUN/states/``), for branches."""

    def callback(state: TrainState) -> None:
        if state.step in at:
            kept = full_state(state.step, state.model, state.optimizer, state.scheduler)
            state.writer.write_state_at(state.step, kept)

    return callback


def release_memory(*when: Schedule) -> Callback:
    """Hand the heap's free pages back to the system after the steps that evaluate or
    record (see specdyn.train.memory): resident memory stays flat over a long run."""

    def callback(state: TrainState) -> None:
        if any(state.step in schedule for schedule in when):
            release_free_memory()

    return callback
