"""``specdyn prune RUN``: half-SVD pruning of every checkpoint (Figure 4)."""

from __future__ import annotations

import argparse
from pathlib import Path

from specdyn.cli.common import Subparsers, open_checked_run
from specdyn.config.device import resolve_device


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("prune", help="evaluate a run's checkpoints with half their SVD pruned")
    p.add_argument("run_dir", type=Path, metavar="RUN", help="a finished run that kept checkpoints")
    p.add_argument("--fraction", type=float, default=0.5, help="top fraction kept (default: 0.5)")
    p.add_argument("--norm-batches", type=int, default=20, help="BatchNorm batches (default: 20)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from specdyn.store import layout

    run = open_checked_run(args.run_dir)  # not a run, or a damaged file: said before torch
    from specdyn.analyses.prune_run import prune_run
    from specdyn.figures.analyses import prune_figure

    report = prune_run(args.run_dir, args.fraction, resolve_device(args.device), args.norm_batches)
    table = report.table[report.table["fraction"] == args.fraction]
    last = table[table["step"] == table["step"].max()]
    print(last.pivot(index="variant", columns="split", values="loss").to_string())
    print(
        f"{len(report.steps)} checkpoints evaluated; stored decompositions reused for "
        f"{report.reused} matrices, {report.decomposed} decomposed"
    )
    name = "prune.png" if args.fraction == 0.5 else f"prune-{args.fraction:g}.png"
    print(prune_figure([run], run.path / layout.FIGURES / name, args.fraction))
    return 0
