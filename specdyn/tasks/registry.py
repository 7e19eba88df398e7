"""Tasks by name. A plain dict: adding a task is one import and one line."""

from __future__ import annotations

from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError, RunStoreError
from specdyn.tasks import (
    grokking,
    lstm_librispeech,
    mlp_cifar10,
    transformer_wikitext103,
    unet_mnist,
    vgg16_cifar10,
)
from specdyn.tasks.base import Task

_MODULES = (
    grokking,
    vgg16_cifar10,
    unet_mnist,
    lstm_librispeech,
    transformer_wikitext103,
    mlp_cifar10,
)
TASKS: dict[str, Task] = {module.TASK.name: module.TASK for module in _MODULES}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"unknown task '{name}'; known tasks: {', '.join(TASKS)}")
    return TASKS[name]


def check_run_task(config: dict, where: str) -> None:
    """RunStoreError when a run's config (read from ``where``) names a task that does not
    exist here; a run of no task (checkpoint analyses, recorder-only runs) passes."""
    task = config.get("task")
    if task is not None and task not in TASKS:
        raise RunStoreError(
            f"'{where}' names the unknown task '{task}'; known tasks: {', '.join(TASKS)}"
        )


def get_preset(task: str, preset: str | None = None) -> RunConfig:
    entry = get_task(task)
    preset = preset or entry.default_preset
    if preset not in entry.presets:
        known = ", ".join(entry.presets)
        raise ConfigError(f"unknown preset '{preset}' for task '{task}'; known presets: {known}")
    return entry.presets[preset]
