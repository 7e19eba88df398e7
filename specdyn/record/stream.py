"""Recording a stream of matrices: one decomposition per matrix as it arrives.

A checkpoint read from disk, or a model's state inside a framework's callback, is a
sequence of (name, 2-D tensor). Each matrix is decomposed as soon as it is read (the
certified Gram route of :mod:`specdyn.spectral.large`, the engine training uses, streamed
from row blocks; a LoRA update from its factors) and only its singular values and top-k
vectors are kept, so peak memory stays near the largest matrices, not the model.

Each decomposition runs on one thread, and up to ``torch.get_num_threads()`` matrices are
decomposed at once, each in its own worker thread (LAPACK releases the GIL). LAPACK's
``syevd`` on the (r, r) Gram matrices of a model (r of a few hundred to a few thousand)
scales poorly across threads and collapses when the cores are shared: on 2 cores, one
768 x 768 eigh took 75 ms on one thread and 186 ms on two (docs/benchmarks.md). A matrix's
result does not depend on which worker decomposes it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import torch
from torch import Tensor

from specdyn.record.diagnostics import diagnostic_rows
from specdyn.record.recorder import Recorder
from specdyn.record.threads import one_thread_per_op
from specdyn.spectral.large import decompose_large
from specdyn.spectral.lowrank import LowRank, lowrank_decompose
from specdyn.spectral.svd import Spectrum

METRIC_SETS = ("default", "all")
# the metric a step's rows end with, per set: a step with its rows was recorded whole
LAST_METRIC = {"default": "spectral_norm", "all": "log_norm"}

_Result = tuple[Spectrum, list[dict]]


@torch.no_grad()
def record_stream(
    recorder: Recorder,
    step: int,
    matrices: Iterable[tuple[str, Tensor | LowRank]],
    metrics: str = "default",
) -> dict[str, Spectrum]:
    """Decompose each matrix in turn and write the step; ``metrics="all"`` adds the
    single-checkpoint diagnostics (alpha, alpha_weighted, ...) as metric rows."""
    shapes: dict[str, tuple[int, int]] = {}  # for user-defined metrics
    noted = ((name, _noted(shapes, name, W)) for name, W in matrices)
    spectra, rows = decompose_stream(step, noted, recorder.top_k, metrics)
    recorder.record_spectra(step, spectra, rows, shapes)
    return spectra


def _noted(shapes: dict[str, tuple[int, int]], name: str, W: Tensor | LowRank) -> Tensor | LowRank:
    shapes[name] = (W.shape[0], W.shape[1])
    return W


@torch.no_grad()
def decompose_stream(
    step: int, matrices: Iterable[tuple[str, Tensor | LowRank]], k: int, metrics: str = "default"
) -> tuple[dict[str, Spectrum], list[dict]]:
    """The spectra (top-k vectors) of every matrix and its diagnostic metric rows, without
    writing them: what :func:`record_stream` records, for a worker to send to the writer."""
    if metrics not in METRIC_SETS:
        raise ValueError(f"metrics must be one of {METRIC_SETS}, got {metrics!r}")
    spectra: dict[str, Spectrum] = {}
    rows: list[dict] = []
    for name, (spectrum, extra) in _decomposed(step, matrices, k, metrics == "all"):
        spectra[name] = spectrum
        rows += extra
    return spectra, rows


def _decomposed(
    step: int, matrices: Iterable[tuple[str, Tensor | LowRank]], k: int, diagnostics: bool
) -> Iterator[tuple[str, _Result]]:
    """(name, (spectrum, diagnostic rows)) in the order of ``matrices``; at most one
    matrix per worker is held (read but not yet decomposed) at a time."""
    workers = max(1, torch.get_num_threads())
    with one_thread_per_op(), ThreadPoolExecutor(workers) as pool:
        pending: deque[tuple[str, Future[_Result]]] = deque()
        for name, W in matrices:
            pending.append((name, pool.submit(_one, step, name, W, k, diagnostics)))
            if len(pending) >= workers:
                done_name, future = pending.popleft()
                yield done_name, future.result()
        while pending:
            done_name, future = pending.popleft()
            yield done_name, future.result()


@torch.no_grad()
def _one(step: int, name: str, W: Tensor | LowRank, k: int, diagnostics: bool) -> _Result:
    if isinstance(W, LowRank):  # a LoRA update, from its factors
        spectrum = lowrank_decompose(name, W, k=k)
    else:
        spectrum = decompose_large(name, W, k=k)
    rows = diagnostic_rows(step, name, W, spectrum.s) if diagnostics else []
    return spectrum, rows
