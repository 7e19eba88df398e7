"""A record's metrics sent to the loggers researchers watch: TensorBoard, W&B, MLflow.

Keys, the same for every logger and the framework callbacks: ``specdyn/<metric>/<matrix>``
for the scalar metrics in ``LOGGED`` of each whole matrix (blocks left out) and pair,
``specdyn/summary/<metric>`` for the model-level summary (the mean over whole matrices,
as :func:`~specdyn.record.diagnostics.model_summary`), and
``specdyn/singular_values/<matrix>`` for the histogram of a chosen matrix's singular
values where the logger has histograms (TensorBoard, W&B). MLflow keys allow letters,
digits and ``_-. /:`` only, so there a pair ``a->b`` is logged as ``a-_b``.

Each logger's package is imported only when a logger of it is given (extras
``tensorboard``, ``wandb``, ``mlflow``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pandas as pd
from torch import Tensor

from specdyn.record.diagnostics import model_summary, whole_matrices

LOGGED = ("normalized_effective_rank", "stable_rank", "alignment", "alpha")
ACCEPTED = (
    "torch.utils.tensorboard.SummaryWriter, a wandb run (wandb.init()) "
    "or an MLflow run (mlflow.start_run())"
)


def logged_scalars(
    rows: pd.DataFrame, matrices: Sequence[str], pairs: Sequence[str], metrics: Sequence[str]
) -> dict[str, float]:
    """Logger key -> value for the metric rows of one step (a tidy step, matrix, metric,
    value table): ``metrics`` of whole matrices and pairs, then the model summary."""
    keep = set(whole_matrices(list(matrices))) | set(pairs)
    picked = rows[rows["matrix"].isin(keep) & rows["metric"].isin(metrics)]
    out = {
        f"specdyn/{m}/{n}": float(v)
        for n, m, v in zip(picked["matrix"], picked["metric"], picked["value"], strict=True)
    }
    summary = model_summary(rows, list(matrices))
    for metric in summary.columns:
        out[f"specdyn/summary/{metric}"] = float(summary[metric].iloc[0])
    return out


class Logger(Protocol):
    def log(
        self, step: int, scalars: Mapping[str, float], histograms: Mapping[str, Tensor]
    ) -> None:
        """Send one record's scalars and singular-value histograms (key -> values)."""


def as_logger(obj: object) -> Logger:
    """The adapter for a TensorBoard writer, a wandb run or an MLflow run; TypeError for
    anything else."""
    module = type(obj).__module__
    if module.startswith("torch.utils.tensorboard") and hasattr(obj, "add_scalar"):
        return _TensorBoard(obj)
    if module.startswith("wandb") and hasattr(obj, "log"):
        return _WandB(obj)
    if module.startswith("mlflow") and hasattr(getattr(obj, "info", None), "run_id"):
        return _MLflow(obj)
    raise TypeError(f"a logger must be {ACCEPTED}; got {type(obj).__module__}.{type(obj).__name__}")


class _TensorBoard:
    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def log(
        self, step: int, scalars: Mapping[str, float], histograms: Mapping[str, Tensor]
    ) -> None:
        for key, value in scalars.items():
            self.writer.add_scalar(key, value, step)
        for key, values in histograms.items():
            self.writer.add_histogram(key, values.double().numpy(), step)
        self.writer.flush()


class _WandB:
    def __init__(self, run: Any) -> None:
        self.run = run

    def log(
        self, step: int, scalars: Mapping[str, float], histograms: Mapping[str, Tensor]
    ) -> None:
        import wandb

        data: dict[str, object] = dict(scalars)
        data |= {k: wandb.Histogram(v.double().tolist()) for k, v in histograms.items()}
        self.run.log(data, step=step)


_MLFLOW_KEY = re.compile(r"[^\w\-. /:]")


class _MLflow:
    def __init__(self, run: Any) -> None:
        import mlflow

        self.run_id, self.client = run.info.run_id, mlflow.MlflowClient()

    def log(
        self, step: int, scalars: Mapping[str, float], histograms: Mapping[str, Tensor]
    ) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(_MLFLOW_KEY.sub("_", k), v, now, step) for k, v in scalars.items()]
        for start in range(0, len(metrics), 1000):  # MLflow takes 1000 metrics a batch
            self.client.log_batch(self.run_id, metrics=metrics[start : start + 1000])
