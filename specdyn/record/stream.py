"""Recording a stream of matrices: one decomposition per matrix as it arrives.

A checkpoint read from disk, or a model's state inside a framework's callback, is a
sequence of (name, 2-D tensor). Each matrix is decomposed as soon as it is read (eigh of its
Gram matrix, :mod:`specdyn.spectral.gram`) and only its singular values and top-k vectors
are kept, so peak memory stays near the largest
matrix, not the model.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from specdyn.record.diagnostics import diagnostic_rows
from specdyn.record.recorder import Recorder
from specdyn.spectral.gram import gram_decompose
from specdyn.spectral.svd import Spectrum

METRIC_SETS = ("default", "all")


@torch.no_grad()
def record_stream(
    recorder: Recorder, step: int, matrices: Iterable[tuple[str, Tensor]], metrics: str = "default"
) -> dict[str, Spectrum]:
    """Decompose each matrix in turn and write the step; ``metrics="all"`` adds the
    single-checkpoint diagnostics (alpha, alpha_weighted, ...) as metric rows."""
    if metrics not in METRIC_SETS:
        raise ValueError(f"metrics must be one of {METRIC_SETS}, got {metrics!r}")
    spectra: dict[str, Spectrum] = {}
    rows: list[dict] = []
    for name, W in matrices:
        spectra[name] = gram_decompose(name, W, k=recorder.top_k)
        if metrics == "all":
            rows += diagnostic_rows(step, name, W, spectra[name].s)
    recorder.record_spectra(step, spectra, rows)
    return spectra
