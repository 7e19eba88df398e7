"""``specdyn reproduce FIGURE``: run what a figure of the paper needs, draw it, check it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from specdyn.cli.common import Subparsers, add_backend_arguments


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "reproduce", help="run, draw and check one of the paper's figures (2-14, 14-pruned)"
    )
    p.add_argument("figure", help="figure number: 2 to 14, or 14-pruned")
    p.add_argument("--task", action="append", help="task (repeatable; default: the paper's)")
    p.add_argument(
        "--scale",
        default="cpu",
        help="cpu (default: minutes here), paper (GPU) or tiny (seconds, a smoke test)",
    )
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: 0,1,2)")
    p.add_argument("--out", default="reproduce", help="folder for sweeps, figures and claims")
    add_backend_arguments(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from specdyn.config.device import resolve_device
    from specdyn.reproduce.figure_targets import get_target
    from specdyn.reproduce.run import reproduce_one
    from specdyn.store.atomic import check_path_name
    from specdyn.sweep.spec import expand, parse_seeds

    resolve_device(args.device)
    check_path_name(Path(args.out))
    target = get_target(args.figure)
    seeds = parse_seeds(args.seeds)
    tasks = args.task or list(target.tasks)
    for task in tasks:  # every spec, and every point of it, is checked before any runs
        spec = target.spec(task, args.scale, seeds, args.backend, args.workers, args.address)
        expand(spec, Path(args.out))
    ok = True
    for task in tasks:
        print(f"figure {target.figure}, {task}, {args.scale} scale", flush=True)
        report = reproduce_one(
            target, task, args.scale, seeds, Path(args.out), args.backend, args.workers,
            args.address, args.device, not args.no_progress, args.threads,
        )  # fmt: skip
        for claim in report.claims:
            print(f"  {'PASS' if claim.passed else 'FAIL'}  {claim.statement}: {claim.measured}")
        print(f"  {report.image}  ({report.seconds:.0f} s)", flush=True)
        ok = ok and report.passed
    if not ok:
        print("specdyn: some claims failed or some points did not finish", file=sys.stderr)
    return 0 if ok else 1
