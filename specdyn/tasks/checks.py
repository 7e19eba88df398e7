"""A run config checked in full: every value and cross-field rule
(:func:`specdyn.config.validate.validate`), then the facts its task's data fix
(``Task.data_facts``, ``Task.data_dir_sources``). Each failure is one ConfigError line."""

from __future__ import annotations

from typing import Any

from specdyn.config.overrides import fields_of
from specdyn.config.rules import show
from specdyn.config.schema import RunConfig
from specdyn.config.validate import validate
from specdyn.errors import ConfigError
from specdyn.tasks.base import Task
from specdyn.tasks.registry import find_task


def validate_run(cfg: RunConfig) -> RunConfig:
    """``cfg`` itself when it is valid for its task; else ConfigError."""
    validate(cfg)
    task = find_task(cfg.task)
    if task is not None:
        for problem in (_data_dir_is_read(cfg, task), _sizes_the_data_fix(cfg, task)):
            if problem is not None:
                raise ConfigError(problem)
    return cfg


def _data_dir_is_read(cfg: RunConfig, task: Task) -> str | None:
    folder, source = getattr(cfg.data, "data_dir", ""), getattr(cfg.data, "source", None)
    if folder and source not in task.data_dir_sources:
        return (
            f"data.data_dir='{folder}' (--data-dir) is not read when data.source='{source}'; "
            f"add --set source=real to train on the data set there, or drop --data-dir"
        )
    return None


def _sizes_the_data_fix(cfg: RunConfig, task: Task) -> str | None:
    values: dict[str, Any] = fields_of(cfg)
    for path, index, wanted in task.data_facts:
        value = values.get(path)
        got = value if index is None or value is None else value[index]
        if got is not None and got != wanted:
            which = {None: "it", 0: "its first value", -1: "its last value"}[index]
            return (
                f"{path}={show(value)} is not allowed: {which} must be {wanted} "
                f"(fixed by {task.name}'s data)"
            )
    return None
