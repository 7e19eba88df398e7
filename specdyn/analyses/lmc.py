"""Linear mode connectivity (paper Section 7.3, Figures 11-13, Appendices A.9-A.10).

A design is a folder ``DESIGN/`` holding ``design.json``, trunk runs ``trunk-<seed>/`` that
keep full training states at the split steps, and their branches
``trunk-<seed>/branches/{lmc,perturb}-<hash>/``, each trained from a split to the end with
its own data-order seed (perturbed first for ``perturb``). Pairs of branch endpoints:

- ``same``: two branch seeds of one trunk at one split (Figure 11);
- ``cross``: one branch seed of two trunks at one split (Figure 12, the control);
- ``perturb``: the two branch seeds of one trunk after a perturbation of size eta (Fig. 13).

For each pair, the whole state is interpolated at 11 alphas, BatchNorm statistics are
recomputed at every alpha, and every split of the task is evaluated: one model, loaded 11
times, one pass over the statistics batches and one over each split per alpha. Tables in
``DESIGN/analyses/lmc/``: ``curve`` (loss and error per alpha), ``barrier`` (per split
and metric: ``value``, Eq. 6 as printed, and ``interior``, the authors' interior-only
barrier) and ``agreement`` (the diagonal of Eq. 5 between the endpoints' recorded final
vectors, per matrix). Every step resumes: finished runs and evaluated pairs are skipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from specdyn.analyses.barrier import ALPHAS, barrier, interior_barrier
from specdyn.analyses.branching import BranchSpec, final_state, prepare, read_spec, run_branches
from specdyn.analyses.interpolate import interpolate_states
from specdyn.analyses.perturb import check_eta
from specdyn.analyses.runs import (
    NORM_BATCHES,
    build,
    check_norm_batches,
    evaluate_state,
    run_config,
    same_task,
)
from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError, RunStoreError
from specdyn.spectral.metrics import agreement_matrix
from specdyn.store import layout
from specdyn.store.atomic import write_json
from specdyn.store.reader import Run, open_run
from specdyn.store.tables import Table, read_table
from specdyn.sweep.backends import Execution
from specdyn.sweep.worker import DONE, Outcome
from specdyn.tasks.base import Experiment
from specdyn.tasks.checks import validate_run

NAME = "lmc"
BRANCH_SEED = 1000  # branch b trains with data_seed BRANCH_SEED + b, the same in every trunk
TABLES = {
    "curve": (
        ("step", "kind", "eta", "pair", "alpha", "split", "loss", "error"),
        ("step", "kind", "eta", "pair", "alpha", "split"),
    ),
    "barrier": (
        ("step", "kind", "eta", "pair", "split", "metric", "value"),
        ("step", "kind", "eta", "pair", "split", "metric"),
    ),
    "agreement": (
        ("step", "kind", "eta", "pair", "matrix", "index", "value"),
        ("step", "kind", "eta", "pair", "matrix", "index"),
    ),
}


@dataclass(frozen=True)
class Design:
    """trunks x branches x splits (and etas at ``perturb_step``) of one config; each pair's
    BatchNorm statistics re-estimated over ``norm_batches`` training batches per alpha."""

    cfg: RunConfig
    trunks: int = 3
    branches: int = 3
    splits: tuple[int, ...] = ()
    etas: tuple[float, ...] = ()
    perturb_step: int = 0
    norm_batches: int = NORM_BATCHES


@dataclass(frozen=True)
class EndpointPair:
    """Two branch endpoints whose interpolation (Eq. 6) is evaluated: ``kind`` "same" (two
    branches of one trunk), "perturb" or "cross" (branches of two trunks), split at
    ``step`` with perturbation ``eta``."""

    kind: str
    step: int
    eta: float
    a: Path
    b: Path

    @property
    def name(self) -> str:
        return (
            f"{self.a.parent.parent.name}/{self.a.name}|{self.b.parent.parent.name}/{self.b.name}"
        )


def check(design: Design) -> None:
    """ConfigError for a design that cannot run; nothing is written before this passes."""
    validate_run(design.cfg)  # the --set values first: train.steps=-1 names itself
    steps = design.cfg.train.steps
    if design.trunks < 1 or design.branches < 1:
        raise ConfigError("--trunks and --branches must be at least 1")
    if design.branches < 2 and design.trunks < 2:
        raise ConfigError("a design needs two branches or two trunks to compare")
    for eta in design.etas:
        check_eta(eta)
    check_norm_batches(design.norm_batches)
    bad = [s for s in (*design.splits, design.perturb_step) if not 0 <= s < steps]
    if bad:
        raise ConfigError(f"split steps {bad} are not in [0, {steps}) (training has {steps} steps)")
    if not design.splits and not design.etas:
        raise ConfigError("a design needs split steps or perturbation sizes")
    for cfg, _ in trunk_points(design, Path()):  # every trunk as it will run
        validate_run(cfg)


def trunk_points(design: Design, root: Path) -> list[tuple[RunConfig, Path]]:
    keep = tuple(sorted({*design.splits, *((design.perturb_step,) if design.etas else ())}))
    train = dataclasses.replace(design.cfg.train, state_at=keep)
    return [
        (
            dataclasses.replace(design.cfg, seed=t, data_seed=None, train=train),
            layout.trunk_folder(root, t),
        )
        for t in range(design.trunks)
    ]


def branch_specs(design: Design) -> list[BranchSpec]:
    seeds = [BRANCH_SEED + b for b in range(design.branches)]
    specs = [BranchSpec("lmc", s, data_seed=d) for s in design.splits for d in seeds]
    step = design.perturb_step
    specs += [
        BranchSpec("perturb", step, data_seed=d, eta=e) for e in design.etas for d in seeds[:2]
    ]
    return specs


Points = list[tuple[RunConfig, Path]]


def run_design(design: Design, root: Path, execution: Execution) -> tuple[Points, list[Outcome]]:
    """Train the trunks, then every branch, then evaluate every pair whose endpoints both
    finished; resumable. Returns every point (trunks, then branches) and its outcome."""
    check(design)
    execution.check()
    write_json(
        root / layout.DESIGN,
        {
            "trunks": design.trunks,
            "branches": design.branches,
            "splits": list(design.splits),
            "etas": list(design.etas),
            "perturb_step": design.perturb_step,
            "norm_batches": design.norm_batches,
            "task": design.cfg.task,
            "preset": design.cfg.preset,
        },
    )
    trunks = trunk_points(design, root)
    outcomes = run_branches(trunks, execution)
    done = [path for (_, path), o in zip(trunks, outcomes, strict=True) if o.state == DONE]
    points, more = branch_and_compare(design, root, done, execution)
    return trunks + points, outcomes + more


def branch_and_compare(
    design: Design,
    root: Path,
    trunks: Sequence[Path],
    execution: Execution,
    kinds: Sequence[str] = ("same", "cross", "perturb"),
) -> tuple[Points, list[Outcome]]:
    """Train the design's branches of finished ``trunks`` through ``execution``, then
    evaluate the pairs of ``kinds`` whose endpoints finished into ``root/analyses/lmc``."""
    points = []
    for path in trunks:
        trunk = open_run(path)
        for spec in branch_specs(design):
            noise = dataclasses.replace(spec, noise_seed=int(trunk.config["seed"]))
            points.append(prepare(trunk, noise if spec.kind == "perturb" else spec))
    outcomes = run_branches(points, execution)
    done = [path for (_, path), o in zip(points, outcomes, strict=True) if o.state == DONE]
    todo = [pair for pair in pairs(design, done) if pair.kind in kinds]
    evaluate_pairs(root, todo, execution.torch_device(), design.norm_batches)
    return points, outcomes


def pairs(design: Design, branch_paths: Sequence[Path]) -> list[EndpointPair]:
    """Same-trunk, cross-trunk and perturbed pairs of branch endpoints."""
    by_key = {}
    for path in branch_paths:
        spec = read_spec(path)
        by_key[(path.parent.parent.name, spec.kind, spec.step, spec.eta, spec.data_seed)] = path
    out = []
    for (trunk, kind, step, eta, seed), path in by_key.items():
        for (t2, k2, s2, e2, d2), other in by_key.items():
            if (k2, s2, e2) != (kind, step, eta) or (t2, d2) <= (trunk, seed):
                continue
            if t2 == trunk:
                out.append(
                    EndpointPair("same" if kind == "lmc" else "perturb", step, eta, path, other)
                )
            elif d2 == seed and kind == "lmc":
                out.append(EndpointPair("cross", step, eta, path, other))
    return out


def evaluate_pairs(
    root: Path, todo: Sequence[EndpointPair], device: torch.device, norm_batches: int = NORM_BATCHES
) -> None:
    tables = {n: Table(layout.analysis_table(root, NAME, n), *spec) for n, spec in TABLES.items()}
    frame = tables["barrier"].frame
    done = set(frame[["kind", "pair", "step", "eta"]].itertuples(index=False, name=None))
    experiments: dict[Path, tuple] = {}
    for pair in todo:
        if (pair.kind, pair.name, pair.step, pair.eta) in done:
            continue
        a, b = open_run(pair.a), open_run(pair.b)
        if pair.a.parent.parent not in experiments:
            cfg = run_config(a)
            experiments[pair.a.parent.parent] = (cfg, build(cfg, device))
        cfg, exp = experiments[pair.a.parent.parent]
        curve = interpolation_curve(exp, cfg, final_state(a), final_state(b), norm_batches)
        key = {"step": pair.step, "kind": pair.kind, "eta": pair.eta, "pair": pair.name}
        tables["curve"].add([key | row for row in curve])
        tables["barrier"].add([key | row for row in barriers(curve)])
        tables["agreement"].add([key | row for row in endpoint_agreement(a, b)])
        for table in tables.values():
            table.flush()  # pair by pair: a killed evaluation resumes at the next pair
    for table in tables.values():
        table.compact()  # one file per table once every pair is done


def interpolation_curve(
    exp: Experiment, cfg: RunConfig, a: dict, b: dict, norm_batches: int = NORM_BATCHES
) -> list[dict]:
    """Rows (alpha, split, loss, error) at the 11 alphas; BatchNorm recomputed per alpha."""
    rows = []
    for alpha in ALPHAS:
        state = interpolate_states(a, b, alpha)
        result = evaluate_state(exp, cfg, state, recompute=True, norm_batches=norm_batches)
        rows += [
            {"alpha": alpha, "split": s, "loss": v["loss"], "error": v["error"]}
            for s, v in result.items()
        ]
    return rows


def barriers(curve: list[dict]) -> list[dict]:
    """Barriers on every split, for loss and for error: ``value`` is Eq. 6 (never below
    0), ``interior`` the authors' interior-only value (can be negative): see
    :mod:`specdyn.analyses.barrier`."""
    out = []
    for split in dict.fromkeys(r["split"] for r in curve):
        rows = sorted((r for r in curve if r["split"] == split), key=lambda r: r["alpha"])
        alphas = [r["alpha"] for r in rows]
        for metric in ("loss", "error"):
            values = [r[metric] for r in rows]
            row = {"split": split, "metric": metric, "value": barrier(alphas, values)}
            out.append(row | {"interior": interior_barrier(alphas, values)})
    return out


def endpoint_agreement(a: Run, b: Run) -> list[dict]:
    """Diagonal of Eq. 5 between the two endpoints' recorded final vectors, per matrix."""
    step_a, step_b = int(a.steps[-1]), int(b.steps[-1])
    if step_a != step_b:
        raise RunStoreError(f"endpoints recorded last at steps {step_a} and {step_b}")
    rows = []
    for name in a.matrices:
        U_a, V_a = (torch.from_numpy(x).float() for x in a.vectors(name, step_a))
        U_b, V_b = (torch.from_numpy(x).float() for x in b.vectors(name, step_b))
        diagonal = agreement_matrix(U_a, V_a, U_b, V_b, a.top_k).diagonal().tolist()
        rows += [{"matrix": name, "index": i, "value": v} for i, v in enumerate(diagonal)]
    return rows


def read_tables(root: Path) -> dict[str, pd.DataFrame]:
    return {
        n: read_table(layout.analysis_table(root, NAME, n), *spec) for n, spec in TABLES.items()
    }


def connectivity(
    path_a: str | Path,
    path_b: str | Path,
    device: torch.device | None = None,
    norm_batches: int = NORM_BATCHES,
) -> dict[str, pd.DataFrame]:
    """Curve, barriers and endpoint agreement of any two finished runs of one task and model
    (evaluated on the first run's data); ConfigError for runs of different tasks."""
    check_norm_batches(norm_batches)
    a, b = open_run(path_a), open_run(path_b)
    same_task([a, b])
    cfg = run_config(a)
    exp = build(cfg, device or torch.device("cpu"))
    curve = interpolation_curve(exp, cfg, final_state(a), final_state(b), norm_batches)
    return {
        "curve": pd.DataFrame(curve),
        "barrier": pd.DataFrame(barriers(curve)),
        "agreement": pd.DataFrame(endpoint_agreement(a, b)),
    }
