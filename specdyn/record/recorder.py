"""The recorder: plugs into any PyTorch training loop and writes spectra to a run store.

    recorder = Recorder("runs/mine", schedule=Schedule(every=100), pairs=[Pair("fc1", "fc2")])
    for step in range(steps + 1):
        recorder.step(step, model)       # records only on scheduled steps
        ...                              # your update
    recorder.finish()                    # agreement of every recorded step with the last

Each recorded step decomposes every weight matrix once (same-shape matrices batched) and
derives all scalar metrics and pair alignments from that one decomposition.

Under ``torch.distributed`` only rank 0 writes (:mod:`.distributed`): a DDP model is
recorded by rank 0 alone; a sharded (FSDP) model needs ``step()`` on every rank, which
gathers each matrix whole in turn, and rank 0 decomposes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from specdyn.record import custom, distributed
from specdyn.record.agreement import ensure_agreement, thin_vectors
from specdyn.record.loggers import LOGGED, Logger, as_logger, logged_scalars
from specdyn.record.schedule import Schedule, spread
from specdyn.record.transfer import HostCopy, to_host
from specdyn.spectral import metrics
from specdyn.spectral.matrices import iter_weight_matrices
from specdyn.spectral.pairs import Pair, PairGroup, pair_alignment, pair_space
from specdyn.spectral.scores import SCORE_K, score_k
from specdyn.spectral.svd import Spectrum, decompose
from specdyn.store import layout
from specdyn.store.reader import open_run
from specdyn.store.writer import RunWriter


def _nan_if_zero(metric: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """``metric``, recorded as NaN for an all-zero spectrum (a matrix of zeros: a layer a
    lottery mask removed whole, a zero-initialised one), where it is undefined."""

    def guarded(s: Tensor) -> Tensor:
        zero = s.amax(-1) <= 0
        value = metric(torch.where(zero[..., None], torch.ones_like(s), s))
        return torch.where(zero, torch.full_like(value, float("nan")), value)

    return guarded


SCALARS: dict[str, Callable[[Tensor], Tensor]] = {
    "effective_rank": _nan_if_zero(metrics.effective_rank),
    "normalized_effective_rank": _nan_if_zero(metrics.normalized_effective_rank),
    "spectral_norm": metrics.spectral_norm,
    "frobenius_norm": metrics.frobenius_norm,
    "stable_rank": _nan_if_zero(metrics.stable_rank),
}


# (of fewer when fewer vectors are kept: the row's ``top_k`` column says how many)


class Recorder:
    """Records the spectra of ``model``'s weight matrices on ``schedule``.

    run: a RunWriter or a folder for one. pairs: alignments to record (Eq. 3).
    top_k: singular vectors kept per matrix (at most its rank). heads: also decompose
    per-head attention blocks. select: keep only matrices whose name passes this predicate.
    vector_dtype: storage dtype of singular vectors (float16 halves the disk use).
    vector_points: once ``finish`` has computed the agreement from the vectors of every
    recorded step, keep vectors at only this many steps, evenly spread over the schedule
    (the first and last recorded included); 0 keeps them all.
    defer: write each record at the next ``step()`` (or ``flush()``/``finish()``), so that
    its copy to the host overlaps a training step; None: only when the matrices are on CUDA.
    loggers: TensorBoard writers, wandb runs, MLflow runs (:mod:`.loggers`) that get each
    record's ``LOGGED`` metrics and summary; histograms: the matrices whose singular values
    they also get as a histogram (TensorBoard and W&B).
    On a rank other than 0 of a process group the recorder writes and logs nothing.
    metrics: user-defined metrics to record (specs or functions, see
    :mod:`specdyn.record.custom`); None: every metric registered with ``@specdyn.metric``.
    about: what the run's config.json says besides the recorder's own settings (an analysed
    checkpoint series: its checkpoints and options); given, the config is written now,
    replacing an earlier one; None: a run without a config describes the recorder alone.
    """

    def __init__(
        self,
        run: RunWriter | str | Path,
        schedule: Schedule | int = 100,
        pairs: Sequence[Pair | PairGroup] = (),
        top_k: int = 100,
        heads: bool = False,
        select: Callable[[str], bool] | None = None,
        vector_dtype: torch.dtype = torch.float32,
        vector_points: int = 0,
        defer: bool | None = None,
        loggers: Sequence[object] = (),
        histograms: Sequence[str] = (),
        metrics: Sequence[str | custom.UserMetric | custom.MetricFn] | None = None,
        about: Mapping[str, Any] | None = None,
    ):
        self.writes = distributed.rank() == 0
        if isinstance(run, RunWriter) and not self.writes:
            raise ValueError(f"a RunWriter on rank {distributed.rank()}: pass the run folder")
        self._run = (run if isinstance(run, RunWriter) else RunWriter(run)) if self.writes else None
        self.loggers: list[Logger] = [as_logger(x) for x in loggers]
        self.histograms = tuple(histograms)
        self.schedule = schedule if isinstance(schedule, Schedule) else Schedule(every=schedule)
        self.pairs, self.top_k, self.heads = tuple(pairs), top_k, heads
        self.select, self.vector_dtype = select, vector_dtype
        self.vector_points, self.defer = vector_points, defer
        self._pending: _Pending | None = None
        self.metrics = custom.registered() if metrics is None else custom.resolve_all(metrics)
        self._warned: set[tuple[str, str]] = set()  # (metric, matrix) pairs warned about
        if self.writes and (about is not None or not self.run.has_config()):
            self.run.write_config(self._describe() | dict(about or {}))  # a plain loop's run

    @property
    def run(self) -> RunWriter:
        """The run's writer (rank 0 only)."""
        if self._run is None:
            raise RuntimeError(f"rank {distributed.rank()} writes no run: only rank 0 does")
        return self._run

    def step(self, step: int, model: nn.Module) -> bool:
        """Record ``model`` if ``step`` is scheduled; returns whether it is (on every rank:
        under DDP the other ranks do nothing, under FSDP they take part in the gathers)."""
        self.flush()
        if step not in self.schedule:
            return False
        self.record(step, model)
        return True

    @torch.no_grad()
    def record(self, step: int, model: nn.Module) -> dict[str, Spectrum]:
        """Decompose every matrix once, then write spectra, metrics and alignments."""
        model = distributed.unwrap(model)
        sharded = distributed.is_sharded(model)
        if not (self.writes or sharded or distributed.is_fsdp1(model)):
            return {}  # DDP: rank 0 records alone, whole weights on every rank
        with distributed.full_parameters(model):  # FSDP1: every rank summons them
            if not (self.writes or sharded):
                return {}  # FSDP1: the summons were this rank's collectives
            whole = distributed.whole if sharded else None
            matrices = iter_weight_matrices(model, heads=self.heads, whole=whole)
            if self.select is not None:
                matrices = ((n, W) for n, W in matrices if self.select(n))
            spectra: dict[str, Spectrum] = {}
            shapes: dict[str, tuple[int, int]] = {}
            if sharded:  # each parameter gathered whole in turn, on every rank
                for name, W in matrices:
                    if self.writes:
                        spectra |= decompose({name: W}, k=self.top_k, vectors=True)
                        shapes[name] = (W.shape[0], W.shape[1])
                    del W  # freed before the next gather: one whole matrix at a time
            else:
                whole_set = dict(matrices)
                spectra = decompose(whole_set, k=self.top_k, vectors=True)
                shapes = {n: (W.shape[0], W.shape[1]) for n, W in whole_set.items()}
        self.record_spectra(step, spectra, shapes=shapes)
        return spectra

    @torch.no_grad()
    def record_spectra(
        self,
        step: int,
        spectra: Mapping[str, Spectrum],
        extra_rows: Sequence[dict] = (),
        shapes: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        """Write spectra decomposed elsewhere (e.g. a checkpoint read one matrix at a time),
        with their metrics and alignments, plus any ``extra_rows`` of the metrics table.
        shapes: name -> (m, n) of each matrix, for user-defined metrics (default: read from
        the vectors). On CUDA (or with ``defer``) the write waits for the next ``step()``."""
        self.flush()
        if not self.writes:
            return
        spectra = dict(spectra)
        if self.metrics:
            found = {n: _shape(sp) for n, sp in spectra.items()} | dict(shapes or {})
            rows = custom.metric_rows(self.metrics, step, spectra, found, self._warned)
            extra_rows = [*extra_rows, *rows]
        alignments = {p.name: pair_alignment(spectra, p, self.top_k) for p in self.pairs}
        spaces = {p.name: pair_space(spectra, p) for p in self.pairs}
        tensors = {layout.values_key(n): sp.s.float() for n, sp in spectra.items()}
        for name, sp in spectra.items():
            if sp.U is not None and sp.V is not None:
                tensors[layout.left_key(name)] = sp.U.to(self.vector_dtype)
                tensors[layout.right_key(name)] = sp.V.to(self.vector_dtype)
        tensors |= {layout.alignment_key(n): A.diagonal().float() for n, A in alignments.items()}
        scalars = _scalars(spectra, alignments)
        tensors |= {f"{_SCALAR}{i}": value for i, (_, value) in enumerate(scalars)}
        copy = to_host(tensors)
        labels = [label for label, _ in scalars]
        columns = {  # an alignment row says its k and the space its baseline draws in
            p: {"top_k": score_k(A.shape[-1]), "space_dim": spaces[p]}
            for p, A in alignments.items()
        }
        self._pending = _Pending(
            step, copy, list(spectra), list(alignments), labels, extra_rows, columns
        )
        if not (copy.event is not None if self.defer is None else self.defer):
            self.flush()

    def flush(self) -> None:
        """Write the record whose copy to the host may still be in flight, if any."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        rows = pending.write(self.run)
        if self.loggers:
            self._log(pending, rows)

    def finish(self) -> None:
        """Agreement (Eq. 5) of every recorded step with the last, from stored vectors:
        written, or checked and redone where missing or stale (see ``ensure_agreement``);
        then the vectors thinned to ``vector_points`` steps and each table compacted into
        its own file. Each part is idempotent, so a killed finish is completed by another."""
        self.flush()
        if not self.writes:
            return
        ensure_agreement(self.run, self.top_k)
        keep = self.kept_vector_steps(open_run(self.run.path).steps.tolist())
        if keep is not None:
            thin_vectors(self.run, keep)
        self.run.compact()  # the tables into their own files, parts removed

    def kept_vector_steps(self, recorded: list[int]) -> set[int] | None:
        """The recorded steps that keep their vectors after the finish; None for all. Spread
        over the whole schedule, so that runs on one schedule (a trunk and its branches)
        keep the same steps."""
        if not self.vector_points or not recorded:
            return None
        last = self.schedule.last
        grid = self.schedule.steps(last) if last is not None else recorded
        return set(spread(grid, self.vector_points)) & set(recorded) | {recorded[0], recorded[-1]}

    def _log(self, pending: _Pending, rows: list[dict]) -> None:
        frame = pd.DataFrame(rows, columns=list(layout.METRICS_COLUMNS))
        scalars = logged_scalars(frame, pending.matrices, pending.pairs, LOGGED)
        values = pending.copy.wait()
        unknown = [n for n in self.histograms if n not in pending.matrices]
        if unknown:
            raise ValueError(f"histograms of {unknown}: no such matrix in {pending.matrices}")
        hists = {
            f"specdyn/singular_values/{n}": values[layout.values_key(n)] for n in self.histograms
        }
        for logger in self.loggers:
            logger.log(pending.step, scalars, hists)

    def _describe(self) -> dict:
        s = self.schedule
        return {
            "task": None,
            "recorder": {
                "schedule": {
                    "every": s.every,
                    "at": list(s.at),
                    "log_points": s.log_points,
                    "last": s.last,
                },
                "pairs": [p.name for p in self.pairs],
                "top_k": self.top_k,
                "heads": self.heads,
                "vector_dtype": str(self.vector_dtype).removeprefix("torch."),
                "vector_points": self.vector_points,
                **({"metrics": [m.spec for m in self.metrics]} if self.metrics else {}),
            },
            "environment": {"versions": {"torch": torch.__version__}},
        }


def _shape(sp: Spectrum) -> tuple[int, int]:
    """(m, n) of a decomposed matrix, from its vectors; (r, r) when it kept none."""
    r = sp.s.shape[-1]
    return (r if sp.U is None else sp.U.shape[0], r if sp.V is None else sp.V.shape[0])


_SCALAR = "metric/"  # a record's scalar metrics among its tensors, by position


def _scalars(
    spectra: dict[str, Spectrum], alignments: dict[str, Tensor]
) -> list[tuple[tuple[str, str], Tensor]]:
    """((matrix, metric), 0-d tensor on the matrices' device) for every metric row."""
    out = []
    for name, sp in spectra.items():
        s = sp.s.double()
        out += [((name, m), f(s)) for m, f in SCALARS.items()]
    for name, A in alignments.items():
        out.append(((name, "alignment"), metrics.top_score(A, SCORE_K)))
    return out


@dataclass
class _Pending:
    """A record on its way to the host, and what its write needs besides the tensors."""

    step: int
    copy: HostCopy
    matrices: list[str]
    pairs: list[str]
    labels: list[tuple[str, str]]
    extra_rows: Sequence[dict]
    columns: dict[str, dict] = field(default_factory=dict)  # pair -> extra alignment columns

    def write(self, run: RunWriter) -> list[dict]:
        """Write the record; returns its metric rows."""
        t = self.copy.wait()
        rows = [
            {
                "step": self.step,
                "matrix": name,
                "metric": metric,
                "value": float(t[_SCALAR + str(i)]),
            }
            | (self.columns.get(name, {}) if metric == "alignment" else {})
            for i, (name, metric) in enumerate(self.labels)
        ]
        rows += list(self.extra_rows)
        run.metrics.add(rows)
        vectors = {
            n: (t[layout.left_key(n)], t[layout.right_key(n)])
            for n in self.matrices
            if layout.left_key(n) in t
        }
        values = {n: t[layout.values_key(n)] for n in self.matrices}
        aligned = {p: t[layout.alignment_key(p)] for p in self.pairs}
        run.write_spectra(self.step, values, vectors, aligned)
        run.metrics.flush()
        return rows
