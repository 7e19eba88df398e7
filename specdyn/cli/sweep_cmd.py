"""``specdyn sweep TASK --grid key=v1,v2 --seeds 0,1,2``: many runs, one folder, resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from specdyn.cli.common import Subparsers, add_backend_arguments


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("sweep", help="run a grid of config values x seeds, locally or on Ray")
    p.add_argument("task", help="task name (see `specdyn tasks`)")
    p.add_argument("--preset", help="preset name (default: the task's default, `cpu`)")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="a swept key and its values (repeatable; the points are the cross product; "
        "values of a tuple key are separated by ';')",
    )
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field for every point (repeatable)",
    )
    p.add_argument("--out", default="sweeps", help="folder that holds sweep folders")
    add_backend_arguments(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from specdyn.config.device import check_device_name, resolve_device
    from specdyn.store.atomic import check_path_name
    from specdyn.sweep.spec import SweepSpec, base_config, parse_grid_args, parse_seeds

    check_device_name(args.device)
    check_path_name(Path(args.out))
    spec = SweepSpec(args.task, args.preset, overrides=tuple(args.overrides))
    grid = parse_grid_args(args.grid, base_config(spec))
    spec = SweepSpec(
        args.task,
        args.preset,
        grid,
        parse_seeds(args.seeds),
        tuple(args.overrides),
        args.backend,
        args.workers,
        args.address,
        args.threads,
    )
    from specdyn.sweep.runner import run_sweep, summary_lines  # torch: only once it runs

    resolve_device(args.device)  # CUDA asked for but absent fails here, before any point
    result = run_sweep(
        spec,
        Path(args.out),
        progress=not args.no_progress,
        device=args.device,
        announce=lambda path: print(path, flush=True),
    )
    for line in summary_lines(result):
        print(line)
    if result.failed:
        print(f"specdyn: {len(result.failed)} of {len(result.points)} points failed; run the "
              "same command again to retry them", file=sys.stderr)  # fmt: skip
        return 1
    return 0
