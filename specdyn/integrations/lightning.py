"""Record spectral dynamics from a Lightning ``Trainer``.

    from specdyn.integrations.lightning import SpectralCallback

    callback = SpectralCallback("runs/mine", every=100)
    trainer = lightning.Trainer(max_steps=1000, callbacks=[callback])
    trainer.fit(module, data)

Records the LightningModule at the start (``trainer.global_step``, 0 for a fresh run),
whenever ``global_step`` (optimizer steps) reaches a multiple of ``every`` or a step in
``at``, and at the end; then computes agreement with the last step. Only the global-zero
process records. Scalar metrics go to every logger of the trainer (``log_metrics``), so
they show up in TensorBoard, CSV or W&B next to the loss. Matrices are named as
``specdyn analyze`` names them in the module's saved ``.ckpt`` files.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import Callback

from specdyn.integrations.live import LiveRecorder, RecordingOptions


class SpectralCallback(RecordingOptions, Callback):
    """A Lightning Callback that records spectra into the run folder ``run``."""

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.is_global_zero:
            self.live = LiveRecorder(self.run, self.schedule, **self.options)
            self._record(trainer, pl_module)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.live is not None and self.live.due(trainer.global_step):
            self._record(trainer, pl_module)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.live is None:
            return
        if trainer.global_step not in self.live.recorded:
            self._record(trainer, pl_module)
        self.live.finish()

    def _record(self, trainer: Any, pl_module: Any) -> None:
        scalars = self.live.record(trainer.global_step, pl_module)  # type: ignore[union-attr]
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=trainer.global_step)
