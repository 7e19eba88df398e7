"""Tasks: each file holds one task's ``build`` (a model from :mod:`specdyn.models`, data
from :mod:`specdyn.data`, the loss and evaluation) and its presets; ``common`` holds what
several tasks share; ``registry`` maps names to tasks. What each task's figures show is
:mod:`specdyn.figures.choices`."""

from specdyn.tasks.base import Experiment, Task
from specdyn.tasks.registry import TASKS, get_preset, get_task

__all__ = ["Experiment", "Task", "TASKS", "get_preset", "get_task"]
