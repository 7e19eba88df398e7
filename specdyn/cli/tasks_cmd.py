"""``specdyn tasks [TASK]``: tasks, presets, and every --set key with its default."""

from __future__ import annotations

import argparse
import sys

from specdyn.cli.common import Subparsers
from specdyn.config.overrides import fields_of
from specdyn.tasks.registry import all_tasks, get_task


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("tasks", help="list tasks, presets and settable keys")
    p.add_argument("task", nargs="?", help="show one task's keys and presets in full")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    names = [args.task]
    if not args.task:
        tasks, problems = all_tasks()
        for problem in problems:
            print(f"specdyn: warning: {problem}", file=sys.stderr)
        names = list(tasks)
    for name in names:
        print(describe_task(name, full=bool(args.task)))
    return 0


def describe_task(name: str, full: bool = True) -> str:
    task = get_task(name)
    presets = ", ".join(f"{p} (default)" if p == task.default_preset else p for p in task.presets)
    lines = [f"{task.name}: {task.description}", f"  presets: {presets}"]
    default = task.presets[task.default_preset]
    lines.append(f"  --set keys (values of preset '{task.default_preset}'):")
    for path, value in fields_of(default).items():
        differs = [p for p, c in task.presets.items() if fields_of(c)[path] != value]
        note = f"   (differs in: {', '.join(differs)})" if full and differs else ""
        lines.append(f"    {path} = {_show(value)}{note}")
    return "\n".join(lines)


def _show(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
