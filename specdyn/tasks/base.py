"""What a task is: a model, its data, its presets and its alignment pairs, in one file."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from specdyn.config.schema import RunConfig

if TYPE_CHECKING:  # a task's presets and registry entry need no torch
    import torch
    from torch import Tensor, nn

    from specdyn.spectral.pairs import Pair, PairGroup

# split -> {"loss": float, "error": float, ...any extra scalars}
Evaluation = dict[str, dict[str, float]]
ConfigDict = Mapping[str, Any]  # a run's config.json
Choice = str | Callable[[ConfigDict], str]
Scale = Callable[[RunConfig[Any, Any]], RunConfig[Any, Any]]  # a preset, shrunk


def unchanged(cfg: RunConfig[Any, Any]) -> RunConfig[Any, Any]:
    return cfg


def rescheduled(
    cfg: RunConfig[Any, Any], steps: int, every: int, eval_every: int, state_every: int
) -> RunConfig[Any, Any]:
    """``cfg`` trained for ``steps``, recorded every ``every``, evaluated every
    ``eval_every``, its resume state saved every ``state_every`` steps."""
    train = replace(cfg.train, steps=steps, eval_every=eval_every, state_every=state_every)
    return replace(cfg, train=train, record=replace(cfg.record, every=every))


def trained_for(steps: int) -> Scale:
    """The scale that changes only the number of steps."""
    return lambda cfg: replace(cfg, train=replace(cfg.train, steps=steps))


@dataclass(frozen=True)
class FigureChoices:
    """What a task's figures show: the matrix of single-matrix panels (Fig. 2b) and the pair
    of the alignment diagonal panel (Fig. 2d), each a name or a function of the run's
    config.json when it depends on the depth ("": the first recorded one); ``rows``: a
    regular expression choosing the effective-rank heatmap's rows ("": every matrix but
    per-head blocks); ``error_label``: what the history's "error" is called."""

    matrix: Choice = ""
    pair: Choice = ""
    rows: str = ""
    error_label: str = "error"


@dataclass
class Experiment:
    """A task made concrete for one config, ready for the training loop.

    loss(model, step): the training loss of ``model`` on the batch for ``step`` (a pure
    function of the step and the order seed, so a resumed run sees the same batches).
    evaluate(model): per split loss and error. pairs: the consecutive matrices whose
    alignment is recorded.
    data_source: which data was used, for the run's config.
    heads: record per-head attention blocks (needed by head-averaged pairs).
    artifacts(model): tensors to keep from the final model, e.g. generated samples,
    written to ``artifacts.safetensors`` once training ends.
    """

    model: nn.Module
    loss: Callable[[nn.Module, int], Tensor]
    evaluate: Callable[[nn.Module], Evaluation]
    pairs: Sequence[Pair | PairGroup] = field(default_factory=list)
    data_source: str = ""
    heads: bool = False
    artifacts: Callable[[nn.Module], dict[str, Tensor]] | None = None


@dataclass(frozen=True)
class Task:
    """A registry entry. ``build(config, device)`` returns the Experiment.

    The task's other facts, each with a default, so that a new task states only what
    applies to it:

    - figures: what its figures show (see FigureChoices);
    - full_batch: one step is one epoch (else an epoch is train_size // batch_size steps,
      or the evaluation interval);
    - lottery_matrix: the matrix of Figure 10's single-layer panels ("": none);
    - perturb_excluded: matrices besides the final layer that perturbation leaves alone
      (Appendix A.10);
    - data_facts: sizes its data fix, as (dotted path, index or None, value), e.g.
      ("model.num_classes", None, 10); data_dir_sources: the sources that read data_dir;
    - paper_preset: the preset that is the paper's (``reproduce --scale paper``);
      paper_figures: the figures the paper draws for it (``reproduce FIGURE``'s default);
    - cpu_scale: what ``reproduce --scale cpu`` makes of the cpu preset (a function
      RunConfig -> RunConfig), so that 3 seeds of a grid point fit in minutes;
      checkpoint_trunk_scale / lmc_trunk_scale: the same for the trunks of Figures 4, 10,
      14-pruned / 11-13 (None: cpu_scale).
    """

    name: str
    description: str
    presets: Mapping[str, RunConfig[Any, Any]]
    default_preset: str
    build: Callable[[RunConfig[Any, Any], torch.device], Experiment]
    figures: FigureChoices = FigureChoices()
    full_batch: bool = False
    lottery_matrix: str = ""
    perturb_excluded: tuple[str, ...] = ()
    data_facts: tuple[tuple[str, int | None, int], ...] = ()
    data_dir_sources: tuple[str, ...] = ("real",)
    paper_preset: str = "paper"
    paper_figures: tuple[str, ...] = ()
    cpu_scale: Scale = unchanged
    checkpoint_trunk_scale: Scale | None = None
    lmc_trunk_scale: Scale | None = None
