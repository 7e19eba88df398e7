"""What a task is: a model, its data, its presets and its alignment pairs, in one file."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from specdyn.config.schema import RunConfig

if TYPE_CHECKING:  # a task's presets and registry entry need no torch
    import torch
    from torch import Tensor, nn

    from specdyn.spectral.pairs import Pair, PairGroup

# split -> {"loss": float, "error": float, ...any extra scalars}
Evaluation = dict[str, dict[str, float]]


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
    """A registry entry. ``build(config, device)`` returns the Experiment."""

    name: str
    description: str
    presets: Mapping[str, RunConfig[Any, Any]]
    default_preset: str
    build: Callable[[RunConfig[Any, Any], torch.device], Experiment]
