"""``specdyn plot RUN_DIR``: Figure 2's panels for one run."""

from __future__ import annotations

import argparse
from pathlib import Path

from specdyn.cli.common import Subparsers
from specdyn.store.reader import open_run


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("plot", help="draw a run's figures as PNGs")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, help="folder for the PNGs (default: RUN_DIR/figures)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from specdyn.figures.plot import plot_run

    for path in plot_run(open_run(args.run_dir), args.out):
        print(path)
    return 0
