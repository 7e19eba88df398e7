"""What each task's figures show, read from the task (``Task.figures``).

For every task: the matrix of single-matrix panels (Fig. 2b), the pair of the alignment
diagonal panel (Fig. 2d), a regular expression choosing the rows of the effective-rank
heatmap (Fig. 2c), and what the history's "error" is called. A choice is a string, or a
function of the run's config (``config.json`` as a dict) when it depends on the depth.

Runs written by early versions stored their choices in ``config["figures"]``; those are
used as stored. A run of no registered task (one recorded from your own loop) gets the
defaults: the first recorded matrix and pair, every matrix but per-head
blocks, and "error".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from specdyn.tasks.base import Choice, FigureChoices
from specdyn.tasks.registry import find_task

Config = Mapping[str, Any]  # a run's config.json


def choices_of(config: Config) -> FigureChoices:
    """The entry for the run with ``config``: its stored choices, else its task's."""
    stored = config.get("figures")
    if isinstance(stored, Mapping):  # runs from before the table
        return FigureChoices(
            str(stored.get("matrix") or ""),
            str(stored.get("pair") or ""),
            str(stored.get("rows") or ""),
            str(stored.get("error_label") or "error"),
        )
    task = find_task(str(config.get("task") or ""))
    return task.figures if task is not None else FigureChoices()


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
