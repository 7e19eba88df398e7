"""The recorder: plugs into any PyTorch training loop and writes spectra to a run store.

    recorder = Recorder("runs/mine", schedule=Schedule(every=100), pairs=[Pair("fc1", "fc2")])
    for step in range(steps + 1):
        recorder.step(step, model)       # records only on scheduled steps
        ...                              # your update
    recorder.finish()                    # agreement of every recorded step with the last

Each recorded step decomposes every weight matrix once (same-shape matrices batched) and
derives all scalar metrics and pair alignments from that one decomposition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from specdyn.analyses.agreement import ensure_agreement
from specdyn.record.schedule import Schedule
from specdyn.spectral import metrics
from specdyn.spectral.matrices import weight_matrices
from specdyn.spectral.pairs import Pair, PairGroup, pair_alignment
from specdyn.spectral.svd import Spectrum, decompose
from specdyn.store.writer import RunWriter

SCALARS: dict[str, Callable[[Tensor], Tensor]] = {
    "effective_rank": metrics.effective_rank,
    "normalized_effective_rank": metrics.normalized_effective_rank,
    "spectral_norm": metrics.spectral_norm,
    "frobenius_norm": metrics.frobenius_norm,
    "stable_rank": metrics.stable_rank,
}


SCORE_K = 10  # Eq. 4: the alignment score is the mean of the top-10 diagonal entries


class Recorder:
    """Records the spectra of ``model``'s weight matrices on ``schedule``.

    run: a RunWriter or a folder for one. pairs: alignments to record (Eq. 3).
    top_k: singular vectors kept per matrix. heads: also decompose per-head attention
    blocks. select: keep only matrices whose name passes this predicate.
    vector_dtype: storage dtype of singular vectors (float16 halves the disk use).
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
    ):
        self.run = run if isinstance(run, RunWriter) else RunWriter(run)
        self.schedule = schedule if isinstance(schedule, Schedule) else Schedule(every=schedule)
        self.pairs, self.top_k, self.heads = tuple(pairs), top_k, heads
        self.select, self.vector_dtype = select, vector_dtype
        if not self.run.has_config():  # a plain loop's run describes itself
            self.run.write_config(self._describe())

    def step(self, step: int, model: nn.Module) -> bool:
        """Record ``model`` if ``step`` is scheduled; returns whether it recorded."""
        if step not in self.schedule:
            return False
        self.record(step, model)
        return True

    @torch.no_grad()
    def record(self, step: int, model: nn.Module) -> dict[str, Spectrum]:
        """Decompose every matrix once, then write spectra, metrics and alignments."""
        matrices = weight_matrices(model, heads=self.heads)
        if self.select is not None:
            matrices = {n: W for n, W in matrices.items() if self.select(n)}
        spectra = decompose(matrices, k=self.top_k, vectors=True)
        self.record_spectra(step, spectra)
        return spectra

    @torch.no_grad()
    def record_spectra(
        self, step: int, spectra: Mapping[str, Spectrum], extra_rows: Sequence[dict] = ()
    ) -> None:
        """Write spectra decomposed elsewhere (e.g. a checkpoint read one matrix at a time),
        with their metrics and alignments, plus any ``extra_rows`` of the metrics table."""
        spectra = dict(spectra)
        alignments = {p.name: pair_alignment(spectra, p, self.top_k) for p in self.pairs}
        self.run.metrics.add(_metric_rows(step, spectra, alignments) + list(extra_rows))
        self.run.write_spectra(
            step,
            {name: sp.s.float() for name, sp in spectra.items()},
            {
                name: (sp.U.to(self.vector_dtype), sp.V.to(self.vector_dtype))
                for name, sp in spectra.items()
                if sp.U is not None and sp.V is not None
            },
            {name: A.diagonal().float() for name, A in alignments.items()},
        )
        self.run.metrics.flush()

    def finish(self) -> None:
        """Agreement (Eq. 5) of every recorded step with the last, from stored vectors:
        written, or checked and redone where missing or stale (see ``ensure_agreement``);
        then each table compacted into its own file."""
        ensure_agreement(self.run, self.top_k)
        self.run.compact()  # the tables into their own files, parts removed

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
            },
            "environment": {"versions": {"torch": torch.__version__}},
        }


def _metric_rows(
    step: int, spectra: dict[str, Spectrum], alignments: dict[str, Tensor]
) -> list[dict]:
    rows = []
    for name, sp in spectra.items():
        s = sp.s.double()
        rows += [
            {"step": step, "matrix": name, "metric": m, "value": float(f(s))}
            for m, f in SCALARS.items()
        ]
    for name, A in alignments.items():
        value = float(metrics.top_score(A, SCORE_K))
        rows.append({"step": step, "matrix": name, "metric": "alignment", "value": value})
    return rows
