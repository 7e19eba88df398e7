"""Singular vector agreement (paper Eq. 5) of each recorded step with the final one.

Computed after training from the vectors the recorder stored (no SVD is repeated), before
the finish thins them (``thin_vectors``), so it covers every recorded step; read
through the store and written back through it: ``agreement.safetensors`` holds the
diagonals, the metrics table one ``agreement`` row per (step, matrix), the mean of the
top-10 diagonal entries. The products run on one thread, so a finish computes the same
bits whatever thread count its process has. ``ensure_agreement`` is idempotent: it checks
both against the recorded steps and redoes whichever is missing or stale, so a run killed
at any moment of its finish step is completed by running it again.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor

from specdyn.errors import RunStoreError
from specdyn.record.threads import one_thread_per_op
from specdyn.spectral.metrics import agreement_matrix
from specdyn.spectral.scores import SCORE_K, score_k
from specdyn.store import layout
from specdyn.store.reader import Run, open_run
from specdyn.store.writer import RunWriter

GROUP_BYTES = 64 * 2**20  # vectors of one step read at a time


def agreement_diagonals(run: Run, k: int | None = None) -> tuple[list[int], dict[str, Tensor]]:
    """(steps, matrix -> (steps, k') diagonal of Eq. 5 against the last recorded step), at
    every recorded step that holds vectors: all of them until the finish thins them.
    ``k``: the vectors compared (default: as many as the run keeps).

    Matrices are taken in groups of about ``GROUP_BYTES`` of vectors per step, so only one
    group's vectors, at two steps, are held at once, not two whole steps' (a 1.1B-parameter
    model's top-100 vectors are 344 MB a step)."""
    steps, recorded = run.vector_steps, run.steps.tolist()
    if not steps:  # nothing recorded, or values only: no matrix to agree
        return recorded, {}
    last = recorded[-1]
    if steps[-1] != last:
        raise RunStoreError(f"run '{run.path}' kept no singular vectors at its last step {last}")
    k = run.top_k if k is None else k
    rows: dict[str, list[Tensor]] = {}
    with one_thread_per_op():  # the same sums whether the run is new, resumed or moved
        for group in _groups(run.shapes):
            final = _vectors(run, last, group)
            for name in group:
                rows[name] = []
            for step in steps:
                current = final if step == last else _vectors(run, step, group)
                for name, (U_T, V_T) in final.items():
                    U_t, V_t = current[name]
                    rows[name].append(agreement_matrix(U_t, V_t, U_T, V_T, k).diagonal())
    return steps, {name: torch.stack(d) for name, d in rows.items()}


def _groups(shapes: dict[str, tuple[tuple[int, int], int]]) -> list[list[str]]:
    """The matrices in their stored order, cut into groups of about GROUP_BYTES of float32
    vectors (U and V) each."""
    groups: list[list[str]] = [[]]
    size = 0
    for name, ((m, n), k) in shapes.items():
        if groups[-1] and size >= GROUP_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += 4 * (m + n) * k
    return groups


def agreement_rows(steps: list[int], diagonals: dict[str, Tensor]) -> list[dict]:
    """The metrics rows of the agreement summary, one per (step, matrix); ``top_k``:
    the entries it averages (10, or all that were kept when fewer were)."""
    return [
        {
            "step": s,
            "matrix": name,
            "metric": layout.AGREEMENT_METRIC,
            "value": float(d[i, :SCORE_K].mean()),
            "top_k": score_k(d.shape[-1]),
        }
        for name, d in diagonals.items()
        for i, s in enumerate(steps)
    ]


def ensure_agreement(writer: RunWriter, k: int | None = None) -> None:
    """Write the agreement file and rows of the run ``writer`` holds, unless both are there
    and match the recorded steps; either one missing or stale is redone."""
    run = open_run(writer.path)
    steps = run.steps.tolist()
    if not steps:
        return
    stored = run.agreement_diagonals()
    final_matrices = sorted(run.vector_matrices(steps[-1]))
    current = stored is not None and run.agreement_covers(stored[0])
    if stored is None or not current or sorted(stored[1]) != final_matrices:
        steps, diagonals = agreement_diagonals(run, k)
        writer.write_agreement(steps, diagonals)
    else:
        diagonals = {name: torch.from_numpy(d) for name, d in stored[1].items()}
    rows = agreement_rows(steps, diagonals)
    frame = writer.metrics.frame
    stale = (frame["metric"] == layout.AGREEMENT_METRIC) & ~frame["step"].isin(steps)
    if stale.any():  # an agreement redone at fewer steps (the vectors were thinned)
        writer.metrics.drop_rows(
            lambda f: (f["metric"] == layout.AGREEMENT_METRIC) & ~f["step"].isin(steps)
        )
    if not _rows_present(writer.metrics.frame, rows):
        writer.metrics.add(rows)
        writer.metrics.flush()


def _rows_present(frame: pd.DataFrame, rows: list[dict]) -> bool:
    have = frame[frame["metric"] == layout.AGREEMENT_METRIC]
    key = ["step", "matrix"]
    want = pd.DataFrame(rows, columns=list(layout.METRICS_COLUMNS))
    if len(have) != len(want):
        return False
    merged = want.merge(have, on=key, how="left", suffixes=("", "_have"), indicator=True)
    a, b = merged["value"], merged["value_have"]
    same = (a == b) | (a.isna() & b.isna())
    return bool((merged["_merge"] == "both").all() and same.all())


def _vectors(run: Run, step: int, matrices: list[str]) -> dict[str, tuple[Tensor, Tensor]]:
    return {
        name: (torch.from_numpy(U).float(), torch.from_numpy(V).float())
        for name, (U, V) in run.step_vectors(step, matrices).items()
    }


def thin_vectors(writer: RunWriter, keep: set[int]) -> None:
    """Drop the singular vectors of every recorded step not in ``keep`` (the agreement,
    values and alignments stay). Idempotent; the agreement must be written first."""
    run = open_run(writer.path)
    for step in run.vector_steps:
        if step not in keep:
            writer.drop_vectors(step)
