"""Tasks by name. A plain dict: adding a task is one import and one line.

An installed package offers tasks in the ``specdyn.tasks`` entry-point group, each entry
naming its ``Task`` (or a module with ``TASK``), e.g. in its pyproject.toml::

    [project.entry-points."specdyn.tasks"]
    toy = "toypkg.task:TASK"

It is loaded when its name is first asked for (``find_task``), in every process that
asks (sweep points train in worker processes), and listed by ``specdyn tasks``.
"""

from __future__ import annotations

from importlib import metadata

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
ENTRY_POINTS = "specdyn.tasks"  # the entry-point group of installed packages' tasks


def find_task(name: str) -> Task | None:
    """The task called ``name``: built in, registered in TASKS, or offered by an installed
    package (loaded now, then kept in TASKS); None when there is none."""
    if name and name not in TASKS:
        entry = next((e for e in _entries() if e.name == name), None)
        if entry is not None:
            TASKS[name] = _load(entry)
    return TASKS.get(name)


def all_tasks() -> tuple[dict[str, Task], list[str]]:
    """Every task (TASKS and every installed package's), and one line for each entry point
    that does not load: a broken package hides none of the others."""
    problems = []
    for entry in _entries():
        try:
            find_task(entry.name)
        except ConfigError as err:
            problems.append(str(err))
    return TASKS, problems


def get_task(name: str) -> Task:
    found = find_task(name)
    if found is None:
        raise ConfigError(f"unknown task '{name}'; known tasks: {', '.join(_known())}")
    return found


def _entries() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINTS))


def _known() -> list[str]:
    return [*TASKS, *(e.name for e in _entries() if e.name not in TASKS)]


def _load(entry: metadata.EntryPoint) -> Task:
    where = f"the entry point '{entry.name} = {entry.value}' ({ENTRY_POINTS})"
    try:
        found = entry.load()
    except Exception as err:  # an installed package's import: any error, said in one line
        first = (str(err).strip().splitlines() or [""])[0]
        raise ConfigError(f"{where} does not load: {type(err).__name__}: {first}") from None
    task = getattr(found, "TASK", found)  # the Task itself, or a module defining TASK
    if not isinstance(task, Task):
        raise ConfigError(f"{where} names a {type(task).__name__}, not a specdyn Task")
    if task.name != entry.name:
        raise ConfigError(f"{where} names the task '{task.name}', not '{entry.name}'")
    return task


def check_run_task(config: dict, where: str) -> None:
    """RunStoreError when a run's config (read from ``where``) names a task that does not
    exist here; a run of no task (checkpoint analyses, recorder-only runs) passes."""
    task = config.get("task")
    if task is not None and find_task(str(task)) is None:
        raise RunStoreError(
            f"'{where}' names the unknown task '{task}'; known tasks: {', '.join(_known())}"
        )


def get_preset(task: str, preset: str | None = None) -> RunConfig:
    entry = get_task(task)
    preset = preset or entry.default_preset
    if preset not in entry.presets:
        known = ", ".join(entry.presets)
        raise ConfigError(f"unknown preset '{preset}' for task '{task}'; known presets: {known}")
    return entry.presets[preset]
