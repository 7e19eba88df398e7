"""Tasks: each bundles its model, data, presets and alignment pairs."""

from specdyn.tasks.base import Experiment, Task
from specdyn.tasks.registry import TASKS, get_preset, get_task

__all__ = ["Experiment", "Task", "TASKS", "get_preset", "get_task"]
