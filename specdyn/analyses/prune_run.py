"""Half-SVD pruning of a run's checkpoints (paper Section 4, Figure 4; Figure 14's pruned
curves), written to ``RUN/analyses/prune/prune.parquet``.

For every checkpoint: the full model, the model with only the top ceil(r * fraction)
components of every weight matrix but the final layer ("top"), and with only the others
("bottom"), each evaluated on every split of the task (its validation data and its fixed
training subset), BatchNorm statistics recomputed after pruning. Pruning needs the weights,
so it runs on checkpoints (``--set checkpoint_every=N``); where the recorder kept at least
ceil(r * fraction) float32 singular vectors of a matrix at that step, that decomposition is
reused (the bottom part is W minus the top one), otherwise the matrix is decomposed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from specdyn.analyses.pruning import cut_of, half_svd
from specdyn.analyses.runs import (
    NORM_BATCHES,
    build,
    check_norm_batches,
    evaluate_state,
    run_config,
)
from specdyn.analyses.weights import Weight, inner_weights
from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError, RunStoreError
from specdyn.spectral.svd import decompose
from specdyn.store import layout
from specdyn.store.reader import Run, open_run
from specdyn.store.undo import new_files_removed_on_error
from specdyn.store.writer import RunWriter
from specdyn.tasks.base import Experiment

NAME = "prune"
COLUMNS = ("step", "fraction", "variant", "split", "loss", "error")
KEY = ("step", "fraction", "variant", "split")
VARIANTS = ("full", "top", "bottom")


@dataclass
class PruneReport:
    table: pd.DataFrame
    steps: list[int]  # steps evaluated by this call (others were already in the table)
    reused: int  # matrix-steps whose stored decomposition was reused
    decomposed: int  # matrix-steps decomposed here


def prune_run(
    path: str | Path,
    fraction: float = 0.5,
    device: torch.device | None = None,
    norm_batches: int = NORM_BATCHES,
) -> PruneReport:
    """Evaluate the full, top- and bottom-pruned model at every checkpoint of a run;
    resumable (steps already in the table are skipped) after an interrupt; a step that
    fails removes what this call added, so the folder is as it was before."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"fraction must lie in (0, 1), got {fraction}")
    check_norm_batches(norm_batches)
    run = open_run(path)
    if not run.checkpoint_steps:
        raise RunStoreError(
            f"run '{run.path}' saved no checkpoints; train it with --set checkpoint_every=N"
        )
    cfg = run_config(run)
    exp = build(cfg, device or torch.device("cpu"))
    with new_files_removed_on_error(run.path / layout.ANALYSES):  # a failure leaves none
        return _prune_steps(run, exp, cfg, fraction, norm_batches)


def _prune_steps(
    run: Run, exp: Experiment, cfg: RunConfig, fraction: float, norm_batches: int
) -> PruneReport:
    targets = inner_weights(exp.model)
    table = RunWriter(run.path).analysis_table(NAME, NAME, COLUMNS, KEY)
    done = set(table.frame.loc[table.frame["fraction"] == fraction, "step"])
    report = PruneReport(table.frame, [], 0, 0)
    for step in [s for s in run.checkpoint_steps if s not in done]:
        state = run.checkpoint(step)
        variants, reused = pruned_states(run, step, state, targets, fraction)
        report.reused += reused
        report.decomposed += len(targets) - reused
        for variant, weights in variants.items():
            result = evaluate_state(exp, cfg, weights, variant != "full", norm_batches)
            table.add([_row(step, fraction, variant, split, v) for split, v in result.items()])
        table.flush()  # one step at a time: a killed analysis resumes at the next step
        report.steps.append(step)
    table.compact()  # one file once every step is done
    report.table = table.frame
    return report


def _row(step: int, fraction: float, variant: str, split: str, values: dict) -> dict:
    return {"step": step, "fraction": fraction, "variant": variant, "split": split} | values


def pruned_states(
    run: Run, step: int, state: dict[str, Tensor], targets: list[Weight], fraction: float
) -> tuple[dict[str, dict[str, Tensor]], int]:
    """({"full", "top", "bottom"} -> state dict, number of stored decompositions reused)."""
    matrices = {w.name: w.matrix(state[w.param].double()) for w in targets}
    parts = _stored(run, step, matrices, fraction)
    missing = {n: W for n, W in matrices.items() if n not in parts}
    for name, spec in decompose(missing, k=None).items():
        parts[name] = (spec.s, spec.U, spec.V)  # type: ignore[assignment]
    out = {"full": state, "top": dict(state), "bottom": dict(state)}
    for w in targets:
        top, bottom = half_svd(matrices[w.name], *_usv(parts[w.name]), fraction)
        shape, dtype = tuple(state[w.param].shape), state[w.param].dtype
        out["top"][w.param] = w.unmatrix(top, shape).to(dtype)
        out["bottom"][w.param] = w.unmatrix(bottom, shape).to(dtype)
    return out, len(matrices) - len(missing)


def _usv(parts: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    s, U, V = parts
    return U, s, V


def _stored(
    run: Run, step: int, matrices: dict[str, Tensor], fraction: float
) -> dict[str, tuple[Tensor, Tensor, Tensor]]:
    """name -> (s, U, V) in float64 for the matrices whose recorded decomposition at ``step``
    holds enough float32 vectors; none when the step was not recorded."""
    if step not in set(run.steps.tolist()):
        return {}
    out = {}
    for name, W in matrices.items():
        try:
            s, U, V = run.spectrum(name, step)
        except RunStoreError:
            continue
        cut = cut_of(min(W.shape), fraction)
        if U.dtype.name == "float32" and U.shape[1] >= cut and len(s) == min(W.shape):
            out[name] = tuple(torch.from_numpy(x).double() for x in (s, U, V))
    return out  # type: ignore[return-value]
