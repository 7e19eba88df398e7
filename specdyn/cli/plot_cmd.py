"""``specdyn plot RUN_DIR``: Figure 2's panels for one run; ``specdyn plot SWEEP_DIR``: the
multi-run figures that fit a sweep (Figures 3, 5, 6, 7, 8, 9, 14)."""

from __future__ import annotations

import argparse
from pathlib import Path

from specdyn.cli.common import Subparsers, open_checked_run
from specdyn.store import layout


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("plot", help="draw a run's or a sweep's figures as PNGs")
    p.add_argument("run_dir", type=Path, help="a run folder or a sweep folder")
    p.add_argument("--out", type=Path, help="folder for the PNGs (default: DIR/figures)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if (args.run_dir / layout.SWEEP).is_file():
        from specdyn.figures.sweeps import plot_sweep
        from specdyn.sweep.results import open_sweep

        for path in plot_sweep(open_sweep(args.run_dir), args.out):
            print(path)
        return 0
    run = open_checked_run(args.run_dir)  # not a run: said before matplotlib and torch load
    from specdyn.figures.plot import plot_run

    for path in plot_run(run, args.out):
        print(path)
    return 0
