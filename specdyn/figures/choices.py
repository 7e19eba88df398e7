"""What each task's figures show, in one table keyed by task name.

For every task: the matrix of single-matrix panels (Fig. 2b), the pair of the alignment
diagonal panel (Fig. 2d), a regular expression choosing the rows of the effective-rank
heatmap (Fig. 2c), and what the history's "error" is called. A choice is a string, or a
function of the run's config (``config.json`` as a dict) when it depends on the depth.

Runs written before this table existed stored their choices in ``config["figures"]``;
those are used as stored. A task missing from the table (a run recorded from your own
loop) gets the defaults: the first recorded matrix and pair, every matrix but per-head
blocks, and "error".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Config = Mapping[str, Any]  # a run's config.json
Choice = str | Callable[[Config], str]


@dataclass(frozen=True)
class FigureChoices:
    """matrix / pair: "" for the first recorded one. rows: "" for every matrix but
    per-head blocks."""

    matrix: Choice = ""
    pair: Choice = ""
    rows: str = ""
    error_label: str = "error"


def _lstm_layer(config: Config) -> int:
    """The paper's 3rd of 4 layers: the one before the last (the first of one)."""
    return max(int(config["model"]["n_layers"]) - 2, 0)


def _lstm_matrix(config: Config) -> str:
    return f"lstm.weight_ih_l{_lstm_layer(config)}.g"


def _lstm_pair(config: Config) -> str:
    k, n = _lstm_layer(config), int(config["model"]["n_layers"])
    nxt = f"lstm.weight_ih_l{k + 1}.g" if k + 1 < n else "fc"
    return f"{_lstm_matrix(config)}->{nxt}"


def _lm_mlp(config: Config) -> str:
    """The MLP of the 8th of 12 layers (Fig. 3), at the same relative depth."""
    n_layers = int(config["model"]["n_layers"])
    return f"blocks.{max(round(n_layers * 8 / 12) - 1, 0)}.mlp"


CHOICES: dict[str, FigureChoices] = {
    # Fig. 2: the first attention matrix; embedding -> attention.
    "grokking": FigureChoices("attn.in_proj_weight", "embed->attn.in_proj_weight"),
    # Appendix A.1: the 12th convolution; 11th -> 12th at the centre position.
    "vgg16-cifar10": FigureChoices("convs.11", "convs.10->convs.11"),
    # the 3rd convolution; 3rd -> 4th at the 4th's centre.
    "unet-mnist": FigureChoices("conv3", "conv3->conv4", error_label="diffusion MSE"),
    # the 3rd layer's g gate; 3rd -> 4th; heatmap: the g gates by depth, then fc.
    "lstm-librispeech": FigureChoices(_lstm_matrix, _lstm_pair, r"\.g$|^fc$", "CER"),
    # W1 of the 8th of 12 layers; W1 -> W2.
    "transformer-wikitext103": FigureChoices(
        lambda c: f"{_lm_mlp(c)}.fc_in",
        lambda c: f"{_lm_mlp(c)}.fc_in->{_lm_mlp(c)}.fc_out",
        error_label="next-token error",
    ),
    # the middle of the network, as in Fig. 8.
    "mlp-cifar10": FigureChoices("layers.1", "layers.1->layers.2"),
}


def choices_of(config: Config) -> FigureChoices:
    """The entry for the run with ``config``: its stored choices, else the task's row."""
    stored = config.get("figures")
    if isinstance(stored, Mapping):  # runs from before the table
        return FigureChoices(
            str(stored.get("matrix") or ""),
            str(stored.get("pair") or ""),
            str(stored.get("rows") or ""),
            str(stored.get("error_label") or "error"),
        )
    return CHOICES.get(str(config.get("task", "")), FigureChoices())


def figure_choices(config: Config) -> dict[str, str]:
    """{"matrix", "pair", "rows", "error_label"} of the run with ``config``, resolved."""
    entry = choices_of(config)
    return {
        "matrix": _resolve(entry.matrix, config),
        "pair": _resolve(entry.pair, config),
        "rows": entry.rows,
        "error_label": entry.error_label,
    }


def error_label(config: Config) -> str:
    """What the history's "error" of this run is called (e.g. "CER")."""
    return choices_of(config).error_label


def _resolve(choice: Choice, config: Config) -> str:
    return choice if isinstance(choice, str) else choice(config)
