"""Training branched from a run's kept training state, as an ordinary recorded run folder
``PARENT/branches/<kind>-<hash>/`` with a ``branch.json`` that says where it starts and
what it changes. Asking for the same branch again resumes it; a folder whose branch.json
differs is refused, never reused.

``run_branches(points, execution)`` runs (config, folder) points, branches or plain runs,
through the sweep backends (a process per point locally, or Ray tasks), skipping finished
ones; a failed point never stops the others and comes back as a failed Outcome.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from specdyn.analyses import masks as masking
from specdyn.analyses.perturb import check_eta, perturb_model
from specdyn.analyses.runs import inner_targets, run_config
from specdyn.analyses.weights import perturbed_weights
from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError, RunStoreError
from specdyn.store import layout
from specdyn.store.atomic import write_atomic, write_json
from specdyn.store.reader import Run, open_run
from specdyn.sweep.backends import Execution
from specdyn.sweep.worker import DONE, FAILED, Outcome, is_finished
from specdyn.train.branch import BranchStart
from specdyn.train.loop import train

KINDS = ("lottery", "lmc", "perturb")


@dataclass(frozen=True)
class BranchSpec:
    """A branch of a parent run. kind: "lottery", "lmc" or "perturb". step: the parent's
    step it starts from (a kept training state). data_seed: its data order (None: the
    parent's). mask: "magnitude" or "random" with density and mask_seed (lottery). eta
    and noise_seed: the perturbation (perturb)."""

    kind: str
    step: int
    data_seed: int | None = None
    mask: str = ""
    density: float = 0.0
    mask_seed: int = 0
    eta: float = 0.0
    noise_seed: int = 0

    def path(self, parent: Path) -> Path:
        """This branch's folder under the run at ``parent``, named by its kind and a hash
        of the spec."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        label = f"{self.kind}-{self.mask}" if self.mask else self.kind
        return layout.branch_folder(parent, label, hashlib.sha256(text.encode()).hexdigest()[:8])


def prepare(parent: Run, spec: BranchSpec) -> tuple[RunConfig, Path]:
    """Check the spec against the parent, write branch.json (and a lottery mask) once, and
    return the branch's (config, folder). Nothing is written when the spec is refused."""
    cfg = run_config(parent)
    _check(parent, spec, cfg)
    path = spec.path(parent.path)
    description = {"parent": str(parent.path.resolve()), **dataclasses.asdict(spec)}
    saved = path / layout.BRANCH
    if saved.exists():
        if json.loads(saved.read_text()) | {"parent": description["parent"]} != description:
            raise RunStoreError(f"'{path}' holds a different branch ({saved.name} differs)")
    else:
        if spec.kind == "lottery":
            _write_mask(parent, spec, path / layout.MASK)
        write_json(saved, description)
    data_seed = cfg.data_seed if spec.data_seed is None else spec.data_seed
    train_cfg = dataclasses.replace(cfg.train, state_at=())
    return dataclasses.replace(cfg, data_seed=data_seed, train=train_cfg), path


def _check(parent: Run, spec: BranchSpec, cfg: RunConfig) -> None:
    if spec.kind not in KINDS:
        raise ConfigError(f"unknown branch kind '{spec.kind}'; known: {', '.join(KINDS)}")
    if spec.step >= cfg.train.steps:
        raise ConfigError(
            f"step {spec.step} is not before the end of run '{parent.path}' "
            f"({cfg.train.steps} steps)"
        )
    if spec.step not in parent.state_steps:
        kept = ", ".join(map(str, parent.state_steps)) or "none"
        raise RunStoreError(
            f"run '{parent.path}' kept no training state at step {spec.step} (kept: {kept}; "
            "train the parent with --set state_at=STEP,...)"
        )
    parent.state(spec.step)  # readable and safe (weights_only) before anything is written
    if spec.kind == "lottery":
        if spec.mask not in ("magnitude", "random"):
            raise ConfigError(f"mask must be 'magnitude' or 'random', got '{spec.mask}'")
        masking.check_density(spec.density)
    if spec.kind == "perturb":
        check_eta(spec.eta)


def final_state(run: Run) -> dict[str, torch.Tensor]:
    """The run's final weights; RunStoreError when it has not finished."""
    steps = int(run.config["train"]["steps"])
    if steps not in run.checkpoint_steps:
        raise RunStoreError(f"run '{run.path}' has not finished: no checkpoint at step {steps}")
    return run.checkpoint(steps)


def lottery_masks(parent: Run, spec: BranchSpec) -> masking.Masks:
    """The global magnitude mask of the parent's final weights (all weights but the final
    layer), or a random mask with its per-layer counts."""
    final = final_state(parent)
    weights = {w.param: final[w.param] for w in inner_targets(run_config(parent))}
    masks = masking.magnitude_masks(weights, spec.density)
    if spec.mask == "random":
        masks = masking.random_masks(masks, torch.Generator().manual_seed(spec.mask_seed))
    return masks


def _write_mask(parent: Run, spec: BranchSpec, target: Path) -> None:
    masks = lottery_masks(parent, spec)
    write_atomic(target, lambda p: save_file({k: v.contiguous() for k, v in masks.items()}, p))


def read_spec(path: Path) -> BranchSpec:
    """The BranchSpec of a branch folder."""
    saved = json.loads((path / layout.BRANCH).read_text())
    saved.pop("parent", None)
    return BranchSpec(**saved)


def start_of(path: Path, cfg: RunConfig) -> BranchStart:
    """The BranchStart a prepared branch folder describes."""
    spec = read_spec(path)
    parent = open_run(path.parent.parent)  # PARENT/branches/<folder>
    state = parent.state(spec.step)
    if spec.kind == "lottery":
        masks = load_file(path / layout.MASK)
        return BranchStart(
            state,
            change=lambda m: masking.apply_masks(m, masks),
            after_backward=lambda m: masking.mask_gradients(m, masks),
            after_step=lambda m: masking.apply_masks(m, masks),
        )
    if spec.kind == "perturb":
        noise = torch.Generator().manual_seed(spec.noise_seed)
        return BranchStart(
            state,
            change=lambda m: perturb_model(m, perturbed_weights(m, cfg.task), spec.eta, noise),
        )
    return BranchStart(state)


def train_point(cfg: RunConfig, path: Path, device: torch.device, progress: bool = False) -> Path:
    """Train one point: a branch when the folder holds branch.json, else a plain run."""
    branch = start_of(path, cfg) if (path / layout.BRANCH).exists() else None
    return train(cfg, path, device, progress=progress, branch=branch)


def run_branches(points: Sequence[tuple[RunConfig, Path]], execution: Execution) -> list[Outcome]:
    """Train every (config, folder) point not yet finished through ``execution``'s backend;
    outcomes in the order given (a finished point is "done" at 0 s)."""
    todo = [i for i, (_, path) in enumerate(points) if not is_finished(path)]
    outcomes = [Outcome(DONE) for _ in points]
    names = [f"{p.parent.parent.name}/{p.name}" for _, p in points]

    def update(position: int, event: str | Outcome) -> None:
        if execution.progress and isinstance(event, Outcome):
            print(f"  {event.state:>6} {event.seconds:7.1f}s  {names[todo[position]]}", flush=True)

    ran = execution.run([points[i] for i in todo], update, trainer=train_point)
    for index, outcome in zip(todo, ran, strict=True):
        outcomes[index] = outcome
    return outcomes


def summary(points: Sequence[tuple[RunConfig, Path]], outcomes: Sequence[Outcome]) -> list[str]:
    """One line per point: state, seconds, folder, error; then the counts."""
    lines = []
    for (_, path), o in zip(points, outcomes, strict=True):
        error = f"  {o.error}" if o.error else ""
        lines.append(f"{o.state:>7} {o.seconds:7.1f}s  {path}{error}")
    counts = {s: sum(o.state == s for o in outcomes) for s in (DONE, FAILED)}
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return lines
