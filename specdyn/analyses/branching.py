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
from collections.abc import Callable, Sequence
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
        prepare_kind = KINDS[spec.kind].prepare
        if prepare_kind is not None:
            prepare_kind(parent, spec, path)
        write_json(saved, description)
    data_seed = cfg.data_seed if spec.data_seed is None else spec.data_seed
    train_cfg = dataclasses.replace(cfg.train, state_at=())
    return dataclasses.replace(cfg, data_seed=data_seed, train=train_cfg), path


def _check(parent: Run, spec: BranchSpec, cfg: RunConfig) -> None:
    if spec.kind not in KINDS:
        raise ConfigError(f"unknown branch kind '{spec.kind}'; known: {', '.join(KINDS)}")
    kind = KINDS[spec.kind]
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
    kind.check(spec)


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


def _write_mask(parent: Run, spec: BranchSpec, path: Path) -> None:
    masks = lottery_masks(parent, spec)
    save = lambda p: save_file({k: v.contiguous() for k, v in masks.items()}, p)  # noqa: E731
    write_atomic(path / layout.MASK, save)


def read_spec(path: Path) -> BranchSpec:
    """The BranchSpec of a branch folder."""
    saved = json.loads((path / layout.BRANCH).read_text())
    saved.pop("parent", None)
    return BranchSpec(**saved)


def start_of(path: Path, cfg: RunConfig) -> BranchStart:
    """The BranchStart a prepared branch folder describes."""
    spec = read_spec(path)
    parent = open_run(path.parent.parent)  # PARENT/branches/<folder>
    return KINDS[spec.kind].start(path, spec, parent.state(spec.step), cfg)


# --- the kinds: each checks its fields, writes what it needs, and says how it starts -----


@dataclass(frozen=True)
class Kind:
    """A branch kind. check(spec): ConfigError for a bad spec, before anything is written.
    prepare(parent, spec, folder): what the branch needs besides branch.json (None:
    nothing). start(folder, spec, state, cfg): the BranchStart from the parent's state."""

    check: Callable[[BranchSpec], None]
    prepare: Callable[[Run, BranchSpec, Path], None] | None
    start: Callable[[Path, BranchSpec, dict, RunConfig], BranchStart]


def _check_lottery(spec: BranchSpec) -> None:
    if spec.mask not in ("magnitude", "random"):
        raise ConfigError(f"mask must be 'magnitude' or 'random', got '{spec.mask}'")
    masking.check_density(spec.density)


def _start_lottery(path: Path, spec: BranchSpec, state: dict, cfg: RunConfig) -> BranchStart:
    masks = load_file(path / layout.MASK)
    return BranchStart(
        state,
        change=lambda m: masking.apply_masks(m, masks),
        after_backward=lambda m: masking.mask_gradients(m, masks),
        after_step=lambda m: masking.apply_masks(m, masks),
    )


def _check_perturb(spec: BranchSpec) -> None:
    check_eta(spec.eta)


def _start_perturb(path: Path, spec: BranchSpec, state: dict, cfg: RunConfig) -> BranchStart:
    noise = torch.Generator().manual_seed(spec.noise_seed)
    return BranchStart(
        state,
        change=lambda m: perturb_model(m, perturbed_weights(m, cfg.task), spec.eta, noise),
    )


def _no_check(spec: BranchSpec) -> None:
    return None


def _start_plain(path: Path, spec: BranchSpec, state: dict, cfg: RunConfig) -> BranchStart:
    return BranchStart(state)


# A plain dict, filled here where the kinds are defined: a new kind is its functions and one
# entry. BranchSpec keeps every kind's fields, since a branch folder is named by a hash of
# all of them (renaming the fields would rename existing branches).
KINDS: dict[str, Kind] = {
    "lottery": Kind(_check_lottery, _write_mask, _start_lottery),
    "lmc": Kind(_no_check, None, _start_plain),
    "perturb": Kind(_check_perturb, None, _start_perturb),
}


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
