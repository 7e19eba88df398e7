"""Tasks: each file holds one task's ``build`` (a model from :mod:`specdyn.models`, data
from :mod:`specdyn.data`, the loss and evaluation) and its presets; ``common`` holds what
several tasks share; ``registry`` maps names to tasks. What each task's figures show is
:mod:`specdyn.figures.choices`."""

from typing import TYPE_CHECKING

from specdyn.lazy import lazy_exports

if TYPE_CHECKING:
    from specdyn.tasks.base import Experiment, Task
    from specdyn.tasks.registry import TASKS, get_preset, get_task

__getattr__ = lazy_exports(
    __name__,
    {
        "Experiment": "specdyn.tasks.base",
        "Task": "specdyn.tasks.base",
        "TASKS": "specdyn.tasks.registry",
        "get_preset": "specdyn.tasks.registry",
        "get_task": "specdyn.tasks.registry",
    },
)

__all__ = [
    "Experiment",
    "Task",
    "TASKS",
    "get_preset",
    "get_task",
]
