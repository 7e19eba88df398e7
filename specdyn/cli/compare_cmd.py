"""``specdyn compare RUN_DIR...``: one row of panels per run (Figure 2)."""

from __future__ import annotations

import argparse
from pathlib import Path

from specdyn.cli.common import Subparsers, open_checked_run


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("compare", help="draw Figure 2 with one row per run")
    p.add_argument(
        "run_dirs", type=Path, nargs="+", metavar="RUN", help="run folders, one row each"
    )
    p.add_argument("--out", type=Path, default=Path("compare.png"), help="PNG to write")
    p.add_argument("--labels", nargs="+", default=[], help="row labels, one per run")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from specdyn.errors import ConfigError

    if args.labels and len(args.labels) != len(args.run_dirs):
        raise ConfigError(f"{len(args.labels)} labels for {len(args.run_dirs)} runs")
    runs = [open_checked_run(path) for path in args.run_dirs]
    from specdyn.figures.plot import compare_runs  # after the checks: matplotlib, torch

    print(compare_runs(runs, args.out, args.labels))
    return 0
