"""``Run.baseline(metric, matrix)``: the random-matrix baseline of a recorded number.

The dimensions come from the run's own files: a matrix's shape (m, n) and k from its
stored singular vectors, its entry scale at the step from its singular values, an
alignment's k and space from its row of the metrics table (``top_k``, ``space_dim``). The
references themselves are :mod:`specdyn.spectral.baselines`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import torch

from specdyn.errors import RunStoreError
from specdyn.spectral import baselines as b
from specdyn.spectral.registry import MatrixSpectrum, MetricFn, UserMetric, registered, resolve
from specdyn.spectral.scores import score_k
from specdyn.store import layout

if TYPE_CHECKING:
    from specdyn.store.reader import Run

EDGE = "mp_bulk_edge"  # not a recorded metric: the reference of the singular values
_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


def run_baseline(run: Run, metric: str, matrix: str, step: int | None = None) -> b.Baseline:
    """The baseline of ``metric`` of ``matrix`` (or pair) at ``step`` (default: the last
    recorded); RunStoreError when the run lacks what it needs, ConfigError for a metric
    that is neither built in, nor among the specs of the run's config, nor registered."""
    if metric == "alignment":
        return _alignment(run, matrix, step)
    shape, kept = _geometry(run, matrix)
    if metric == layout.AGREEMENT_METRIC:
        return b.agreement_baseline(shape, score_k(kept))
    steps, values = run.singular_values(matrix)
    at = int(steps[-1]) if step is None else step
    if at not in steps.tolist():
        raise RunStoreError(f"run '{run.path}' recorded no spectra of '{matrix}' at step {at}")
    s = torch.from_numpy(values[steps.tolist().index(at)]).double()
    sigma = b.entry_scale(s, shape)
    if metric == EDGE:
        edge = b.mp_bulk_edge(shape, sigma)
        return b.Baseline(edge, 0.0, 0, f"Marchenko-Pastur edge, entry scale {sigma:.4g}")
    fn, scaled = _matrix_metric(metric, _specs(run.config))
    fits = b.FIT_SAMPLES.get(metric)
    samples = None if fits is None else min(b.samples_for(shape), fits)
    scale, vectors = (sigma if scaled else 1.0), metric not in b.MATRIX_METRICS
    return b.matrix_baseline(fn, shape, kept, scale, samples, 0, matrix, scaled, vectors)


def _specs(config: dict) -> list[str]:
    """The user-defined metrics a run's config says it recorded, as specs."""
    sections = (("record", "metrics"), ("recorder", "metrics"), ("analyze", "user_metrics"))
    found: list[str] = []
    for section, key in sections:
        part = config.get(section)
        if isinstance(part, dict):
            found += [str(spec) for spec in part.get(key) or () if str(spec) not in found]
    return found


def _matrix_metric(metric: str, specs: list[str]) -> tuple[MetricFn, bool]:
    """(function of a MatrixSpectrum, whether it depends on the entry scale): a built-in,
    or a user-defined metric (``_user_metric``)."""
    if metric in b.MATRIX_METRICS:
        return b.MATRIX_METRICS[metric]
    index = _INDEX.match(metric)
    name = index.group(1) if index else metric
    fn = _user_metric(name, specs).fn
    if index is None:
        return fn, True
    i = int(index.group(2))

    def entry(sp: MatrixSpectrum) -> float:
        return float(np.asarray(fn(sp), dtype=np.float64).reshape(-1)[i])

    return entry, True


def _user_metric(name: str, specs: list[str]) -> UserMetric:
    """The metric ``name``: registered in this process, else the run's spec of that name
    (imported), else an installed one."""
    known = {m.name: m for m in registered()}
    if name in known:
        return known[name]
    for spec in specs:
        found = resolve(spec)
        if found.name == name:
            return found
    return resolve(name)


def _alignment(run: Run, pair: str, step: int | None) -> b.Baseline:
    table = run.metrics
    rows = table[(table["metric"] == "alignment") & (table["matrix"] == pair)]
    if rows.empty:
        raise RunStoreError(f"run '{run.path}' recorded no alignment of pair '{pair}'")
    row = rows.iloc[-1] if step is None else rows[rows["step"] == step].iloc[-1]
    k, dim = row.get("top_k"), row.get("space_dim")
    if k is None or dim is None or bool(np.isnan(k)) or bool(np.isnan(dim)):
        raise RunStoreError(
            f"run '{run.path}' predates alignment baselines: its alignment rows of '{pair}' "
            "lack top_k and space_dim"
        )
    return b.alignment_baseline(int(dim), int(k))


def _geometry(run: Run, matrix: str) -> tuple[tuple[int, int], int]:
    """((m, n), vectors kept) of ``matrix``, from the last step that kept its vectors."""
    found = run.shapes.get(matrix)
    if found is None:
        raise RunStoreError(
            f"run '{run.path}' kept no singular vectors of '{matrix}', so its shape is "
            "unknown and it has no baseline (record with top_k > 0)"
        )
    return found
