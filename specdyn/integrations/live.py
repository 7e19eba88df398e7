"""Recording a live model's state the way ``specdyn analyze`` reads a saved checkpoint.

Both framework callbacks use :class:`LiveRecorder`: the model's ``state_dict()`` goes
through the same name-and-shape mapping as a checkpoint file, so a callback's run folder
and ``specdyn analyze`` of that training's checkpoints hold the same matrices under the
same names. Recording reads the weights only (no_grad, no random state touched).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from specdyn.checkpoints.auto_pairs import auto_pairs
from specdyn.checkpoints.mapping import Hints, Spec, plan_matrices, read
from specdyn.checkpoints.readers import MemorySource
from specdyn.record import distributed
from specdyn.record.custom import MetricFn, UserMetric, resolve_all
from specdyn.record.loggers import LOGGED, logged_scalars
from specdyn.record.recorder import Recorder
from specdyn.record.schedule import Schedule
from specdyn.record.stream import METRIC_SETS, record_stream
from specdyn.spectral.matrices import canonical_name
from specdyn.spectral.pairs import Pair

SHARDED = (
    "the framework callbacks record DDP and single-process training; a sharded (FSDP) "
    "model is recorded by a Recorder that every rank steps (docs/distributed.md)"
)


class RecordingOptions:
    """What both framework callbacks take: the run folder, when to record (every N global
    steps and at the steps in ``at``, plus the start and the end), the vectors kept, the
    alignment pairs ("auto", or Pairs), the metric set, per-head blocks, and the metrics
    sent to the framework's loggers, and user-defined metrics to record (specs or
    functions: :mod:`specdyn.record.custom`)."""

    def __init__(
        self,
        run: str | Path,
        every: int = 100,
        at: Sequence[int] = (),
        top_k: int = 100,
        pairs: str | Sequence[Pair] = "auto",
        metrics: str = "default",
        heads: bool = False,
        log_metrics: Sequence[str] = LOGGED,
        user_metrics: Sequence[str | UserMetric | MetricFn] = (),
    ) -> None:
        self.options: dict[str, Any] = dict(
            top_k=top_k,
            pairs=pairs,
            metrics=metrics,
            heads=heads,
            log_metrics=log_metrics,
            user_metrics=user_metrics,
        )
        self.run, self.schedule = Path(run), Schedule(every=every, at=tuple(at))
        self.live: LiveRecorder | None = None


class LiveRecorder:
    """Records a module's matrices on ``schedule`` into the run folder ``run``.

    pairs: "auto" (derived from names and shapes, as ``specdyn analyze --pairs auto``),
    "none", or a sequence of Pair. metrics: "default" or "all" (adds alpha & co.).
    log_metrics: the metrics handed to the framework's loggers (all are in the run folder).
    user_metrics: user-defined metrics to record (:mod:`specdyn.record.custom`).
    """

    def __init__(
        self,
        run: str | Path,
        schedule: Schedule,
        top_k: int = 100,
        pairs: str | Sequence[Pair] = "auto",
        metrics: str = "default",
        heads: bool = False,
        hints: Hints | None = None,
        log_metrics: Sequence[str] = LOGGED,
        user_metrics: Sequence[str | UserMetric | MetricFn] = (),
    ):
        if metrics not in METRIC_SETS:
            raise ValueError(f"metrics must be one of {METRIC_SETS}, got {metrics!r}")
        self.run, self.schedule, self.top_k = Path(run), schedule, top_k
        self.pairs, self.metrics, self.heads = pairs, metrics, heads
        self.hints, self.log_metrics = hints or Hints(), tuple(log_metrics)
        self.user_metrics = resolve_all(user_metrics)
        self.recorded: set[int] = set()
        self._recorder: Recorder | None = None
        self._specs: list[Spec] = []

    def due(self, step: int) -> bool:
        return step in self.schedule and step not in self.recorded

    @torch.no_grad()
    def record(self, step: int, model: nn.Module) -> dict[str, float]:
        """Record ``model`` at ``step``; returns its scalar metrics, keyed for a logger as
        ``specdyn/<metric>/<matrix or pair>`` (whole matrices and pairs only) and
        ``specdyn/summary/<metric>``. A DDP model's wrapper is dropped; a sharded (FSDP)
        model is refused: only the main process records here, and gathering its weights
        would need every process."""
        model = distributed.unwrap(model)
        if distributed.is_sharded(model) or distributed.is_fsdp1(model):
            raise ValueError(SHARDED)
        source = MemorySource(model.state_dict())
        if self._recorder is None:
            self._start(source)
        record_stream(self._recorder, step, read(source, self._specs), self.metrics)  # type: ignore[arg-type]
        self.recorded.add(step)
        return self._scalars(step)

    def finish(self) -> None:
        """Agreement (Eq. 5) of every recorded step with the last."""
        if self._recorder is not None:
            self._recorder.finish()

    def _start(self, source: MemorySource) -> None:
        self._specs = plan_matrices(source.tensors, self.hints, self.heads)
        if isinstance(self.pairs, str):
            if self.pairs not in ("auto", "none"):
                raise ValueError(f"pairs must be 'auto', 'none' or a list of Pair: {self.pairs!r}")
            kernels = {
                canonical_name(k): i.shape[2:]
                for k, i in source.tensors.items()
                if len(i.shape) > 2
            }
            pairs = list(auto_pairs(self._specs, kernels).pairs) if self.pairs == "auto" else []
        else:
            pairs = list(self.pairs)
        self._recorder = Recorder(
            self.run, self.schedule, pairs, self.top_k, self.heads, metrics=self.user_metrics
        )

    def _scalars(self, step: int) -> dict[str, float]:
        recorder: Recorder = self._recorder  # type: ignore[assignment]
        frame = recorder.run.metrics.latest()
        names, pairs = [s.name for s in self._specs], [p.name for p in recorder.pairs]
        return logged_scalars(frame[frame["step"] == step], names, pairs, self.log_metrics)
