"""Record spectral dynamics from a Hugging Face ``transformers.Trainer``.

    from specdyn.integrations.huggingface import SpectralCallback

    trainer = Trainer(model=model, args=args, train_dataset=data)
    SpectralCallback("runs/my-gpt2", every=100).attach(trainer)   # or callbacks=[...]
    trainer.train()

Records the model at the start (``global_step`` 0, or the step training resumes from),
every ``every`` optimizer steps (the Trainer's ``global_step``, so gradient accumulation
is counted as the Trainer counts it), at the steps in ``at``, and at the end; then computes
agreement with the last step. Only the main process records (``is_world_process_zero``);
under DDP the other processes do nothing (a sharded FSDP model is refused, see
docs/distributed.md).
Scalar metrics go through ``trainer.log`` (so TensorBoard, W&B and the log history see them)
when the callback is attached; passed in ``callbacks=[...]`` instead, they are appended to
``state.log_history``. Matrices are named as ``specdyn analyze`` names them in the
Trainer's saved checkpoints.
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from specdyn.checkpoints.mapping import Hints
from specdyn.integrations.live import LiveRecorder, RecordingOptions


class SpectralCallback(RecordingOptions, TrainerCallback):
    """A TrainerCallback that records spectra into the run folder ``run``."""

    _trainer: Any = None  # set by attach()

    def attach(self, trainer: Any) -> SpectralCallback:
        """Add this callback to ``trainer`` and log metrics through ``trainer.log``."""
        self._trainer = trainer
        trainer.add_callback(self)
        return self

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if state.is_world_process_zero:
            self.live = LiveRecorder(self.run, self.schedule, hints=_hints(model), **self.options)
            self._record(state, control, model)

    def on_step_end(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if self.live is not None and self.live.due(state.global_step):
            self._record(state, control, model)

    def on_train_end(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if self.live is None:
            return
        if state.global_step not in self.live.recorded:
            self._record(state, control, model)
        self.live.finish()

    def _record(self, state: Any, control: Any, model: Any) -> None:
        scalars = self.live.record(state.global_step, model)  # type: ignore[union-attr]
        if self._trainer is not None:
            should_log = control.should_log  # ``log`` clears it: the Trainer's own log at
            self._trainer.log(scalars)  # this step (a collective under DDP) would be lost
            control.should_log = should_log
        else:
            state.log_history.append({**scalars, "step": state.global_step})


def _hints(model: Any) -> Hints:
    config = getattr(model, "config", None)
    if config is None:
        return Hints()
    heads = getattr(config, "n_head", None) or getattr(config, "num_attention_heads", None)
    return Hints(getattr(config, "model_type", None), heads if isinstance(heads, int) else None)
