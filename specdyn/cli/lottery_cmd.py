"""``specdyn lottery RUN``: a lottery-ticket branch of a finished run (Figure 10)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from specdyn.cli.common import Subparsers, add_backend_arguments, execution, open_checked_run
from specdyn.config.device import resolve_device


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("lottery", help="retrain a run's rewound weights under a sparse mask")
    p.add_argument("run_dir", type=Path, help="a finished trunk run")
    p.add_argument(
        "--mask",
        choices=("magnitude", "random"),
        default="magnitude",
        help="which weights the mask keeps: the largest, or random ones (default: magnitude)",
    )
    p.add_argument("--density", type=float, default=0.05, help="fraction kept (default: 0.05)")
    p.add_argument("--rewind-step", type=int, help="kept state to rewind to (end of epoch 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of a random mask (default: 0)")
    add_backend_arguments(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from specdyn.store import layout
    from specdyn.store.reader import open_run

    trunk = open_checked_run(args.run_dir)  # not a run, or a damaged file: said before torch
    from specdyn.analyses.lottery import lottery_branches, same_design
    from specdyn.analyses.plans import lottery_matrix
    from specdyn.figures.analyses import lottery_figure

    resolve_device(args.device)
    run = execution(args)
    run.check()
    ((path, outcome),) = lottery_branches(
        [args.run_dir], (args.mask,), args.density, args.rewind_step, args.seed, run
    )
    if outcome.state != "done":
        print(f"failed {outcome.seconds:7.1f}s  {path}  {outcome.error}")
        print(
            f"specdyn: error: the lottery branch failed ({outcome.error}); what it had written "
            "was removed",
            file=sys.stderr,
        )
        return 1
    print(path)
    branch = open_run(path)
    train = branch.history[branch.history["split"] == "train"]
    print(f"final train loss {train['loss'].iloc[-1]:.4g}, error {train['error'].iloc[-1]:.4g}")
    siblings = [open_run(p) for p in same_design(path)]
    matrix = lottery_matrix(str(trunk.config.get("task", "")))
    print(lottery_figure(trunk, siblings, trunk.path / layout.FIGURES / "lottery.png", matrix))
    return 0
