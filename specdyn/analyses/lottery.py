"""Lottery tickets (paper Section 7.2, Figure 10, Appendix A.8).

A mask from the trunk's final weights (global magnitude, or random with the same per-layer
counts), rewound to a kept training state of the trunk (optimizer and schedule included),
trained to the end with masked weights and gradients held at zero. The branch is an
ordinary recorded run in ``TRUNK/branches/lottery-<mask>-<hash>/``; its
``analyses/lottery/agreement.parquet`` holds the diagonal of Eq. 5 for two quantities:

- ``pruned_final``: the trunk's final matrices against the same matrices masked;
- ``trajectory``: the branch against the trunk at every step both kept vectors at (their
  stored vectors, no SVD is repeated; a finished run keeps them at ``record.vector_points``
  steps spread over its schedule, the same steps in the trunk and the branch).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from specdyn.analyses.branching import BranchSpec, final_state, prepare, read_spec, run_branches
from specdyn.analyses.masks import check_density
from specdyn.analyses.plans import REWIND_EPOCH, epoch_steps
from specdyn.analyses.runs import inner_targets, run_config
from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError, RunStoreError
from specdyn.spectral.metrics import agreement_matrix
from specdyn.spectral.svd import decompose
from specdyn.store import layout
from specdyn.store.reader import Run, open_run
from specdyn.store.undo import new_files_removed_on_error, paths_under, remove_new
from specdyn.store.writer import RunWriter
from specdyn.sweep.backends import Execution
from specdyn.sweep.worker import DONE, Outcome

NAME = "lottery"
COLUMNS = ("quantity", "step", "matrix", "index", "value")
KEY = ("quantity", "step", "matrix", "index")


def lottery(
    trunk_path: str | Path,
    mask: str = "magnitude",
    density: float = 0.05,
    rewind_step: int | None = None,
    seed: int = 0,
    execution: Execution | None = None,
) -> Path:
    """Train (or resume) the lottery branch of a finished trunk and write its agreement
    table; returns the branch folder. RunStoreError when the branch failed."""
    (path, outcome), = lottery_branches([Path(trunk_path)], (mask,), density, rewind_step,
                                        seed, execution)  # fmt: skip
    if outcome.state != DONE:
        raise RunStoreError(f"lottery branch '{path}' failed: {outcome.error}")
    return path


def lottery_branches(
    trunks: list[Path],
    masks: tuple[str, ...] = ("magnitude", "random"),
    density: float = 0.05,
    rewind_step: int | None = None,
    seed: int = 0,
    execution: Execution | None = None,
) -> list[tuple[Path, Outcome]]:
    """Every (trunk, mask) branch, prepared first (each spec checked before any trains),
    trained through ``execution``'s backend, its agreement table written once it is done.
    ``rewind_step`` None: the end of epoch 4 of each trunk. A branch that fails leaves
    nothing behind that it did not find: its folder, when this call made it, is removed."""
    roots = [Path(trunk) / layout.BRANCHES for trunk in trunks]
    before = set().union(*(paths_under(root) for root in roots))
    with new_files_removed_on_error(*roots):
        points = [_prepare(trunk, mask, density, rewind_step, seed) for trunk in trunks
                  for mask in masks]  # fmt: skip
    outcomes = run_branches(points, execution or Execution(progress=False))
    for (_, path), outcome in zip(points, outcomes, strict=True):
        if outcome.state == DONE:  # rewritten each time: cheap, and whole after a kill
            write_agreement(open_run(path.parent.parent), open_run(path))
        else:
            remove_new(path, before)
    for root in roots:
        if root not in before and root.is_dir() and not any(root.iterdir()):
            root.rmdir()
    return [(path, o) for (_, path), o in zip(points, outcomes, strict=True)]


def _prepare(
    trunk_path: Path, mask: str, density: float, rewind_step: int | None, seed: int
) -> tuple[RunConfig, Path]:
    if mask not in ("magnitude", "random"):
        raise ConfigError(f"mask must be 'magnitude' or 'random', got '{mask}'")
    check_density(density)
    trunk = open_run(trunk_path)
    cfg = run_config(trunk)
    final_state(trunk)  # the mask comes from the end of training
    step = REWIND_EPOCH * epoch_steps(cfg) if rewind_step is None else rewind_step
    spec = BranchSpec("lottery", step, mask=mask, density=density, mask_seed=seed)
    return prepare(trunk, spec)


def write_agreement(trunk: Run, branch: Run) -> None:
    """The branch's ``analyses/lottery/agreement.parquet`` (see the module docstring)."""
    table = RunWriter(branch.path).analysis_table(NAME, "agreement", COLUMNS, KEY)
    final, steps = final_state(trunk), int(trunk.config["train"]["steps"])
    masks = load_file(branch.path / layout.MASK)
    targets = inner_targets(run_config(trunk))
    plain = {w.name: w.matrix(final[w.param]).float() for w in targets}
    masked = {w.name: w.matrix(final[w.param] * masks[w.param]).float() for w in targets}
    k = trunk.top_k  # singular vectors compared: as many as the trunk keeps
    a, b = decompose(plain, k=k), decompose(masked, k=k)
    for name in plain:
        U_a, V_a, U_b, V_b = a[name].U, a[name].V, b[name].U, b[name].V
        assert U_a is not None and V_a is not None and U_b is not None and V_b is not None
        diagonal = agreement_matrix(U_a, V_a, U_b, V_b, k).diagonal()
        table.add(_rows("pruned_final", steps, name, diagonal))
    for step in sorted(set(trunk.vector_steps) & set(branch.vector_steps)):
        for name in branch.matrices:
            U_a, V_a = (torch.from_numpy(x).float() for x in trunk.vectors(name, step))
            U_b, V_b = (torch.from_numpy(x).float() for x in branch.vectors(name, step))
            diagonal = agreement_matrix(U_a, V_a, U_b, V_b, k).diagonal()
            table.add(_rows("trajectory", step, name, diagonal))
    table.compact()


def _rows(quantity: str, step: int, matrix: str, diagonal: torch.Tensor) -> list[dict]:
    return [
        {"quantity": quantity, "step": step, "matrix": matrix, "index": i, "value": float(v)}
        for i, v in enumerate(diagonal.tolist())
    ]


def same_design(path: Path) -> list[Path]:
    """The analysed lottery branches beside ``path`` with its step and density, magnitude
    masks first."""
    mine = read_spec(path)
    found = []
    for other in sorted(path.parent.glob("lottery-*")):
        if not (other / layout.BRANCH).exists() or not (other / layout.ANALYSES / NAME).is_dir():
            continue
        spec = read_spec(other)
        if (spec.step, spec.density) == (mine.step, mine.density):
            found.append(other)
    return sorted(found, key=lambda p: read_spec(p).mask != "magnitude")
