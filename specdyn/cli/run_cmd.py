"""``specdyn run TASK``: train a preset with overrides, recording its spectra."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from specdyn.cli.common import Subparsers, free_cores
from specdyn.config.device import check_device_name, resolve_device
from specdyn.config.overrides import (
    apply_overrides,
    fields_of,
    replace_fields,
    run_hash,
    set_value,
)
from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError
from specdyn.store import layout
from specdyn.store.atomic import check_path_name
from specdyn.tasks.checks import validate_run
from specdyn.tasks.registry import get_preset

if TYPE_CHECKING:  # torch is imported when a command runs, not when it is parsed
    pass


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("run", help="train a task and record its spectral dynamics")
    p.add_argument("task", help="task name (see `specdyn tasks`)")
    p.add_argument("--preset", help="preset name (default: the task's default, `cpu`)")
    p.add_argument("--seed", type=int, help="random seed (default: 0)")
    p.add_argument("--out", default="runs", help="folder that holds run folders (default: runs)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set weight_decay=0.1 (repeatable)",
    )
    p.add_argument(
        "--metric",
        dest="metrics",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="also record a user-defined metric (or an installed one by name; repeatable)",
    )
    p.add_argument("--data-dir", help="folder holding the real data set (sets data.data_dir)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    p.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: the free cores, i.e. the cores less the load average)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    cfg = resolve(args)  # every check before torch is imported: bad input fails at once
    check_device_name(args.device)
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    threads, why = (args.threads, "--threads") if args.threads else free_cores()
    import torch

    from specdyn.train.loop import train

    device = resolve_device(args.device)
    torch.set_num_threads(threads)
    run_dir = Path(args.out) / layout.run_name(cfg.task, cfg.preset, run_hash(cfg))
    check_path_name(run_dir)  # before the folder is announced
    print(run_dir, flush=True)
    if not args.no_progress:
        print(f"threads: {threads} ({why})", flush=True)
    train(cfg, run_dir, device, progress=not args.no_progress)
    return 0


def resolve(args: argparse.Namespace) -> RunConfig:
    """The preset with every override applied, validated: nothing is written before this."""
    cfg = apply_overrides(get_preset(args.task, args.preset), args.overrides)
    if args.seed is not None:
        cfg = set_value(cfg, "seed", str(args.seed))
    if args.data_dir is not None:
        if "data.data_dir" not in fields_of(cfg):
            raise ConfigError(f"--data-dir is not read by task '{cfg.task}': it uses no data set")
        cfg = set_value(cfg, "data.data_dir", args.data_dir)
    if args.metrics:
        from specdyn.record.custom import resolve_all  # checked now: nothing written yet

        resolve_all([*cfg.record.metrics, *args.metrics])
        cfg = replace_fields(cfg, {"record.metrics": (*cfg.record.metrics, *args.metrics)})
    return validate_run(cfg)
