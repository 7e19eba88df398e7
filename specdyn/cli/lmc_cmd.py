"""``specdyn lmc TASK``: linear mode connectivity of branch endpoints (Figures 11-13)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from specdyn.cli.common import Subparsers, add_backend_arguments, execution
from specdyn.config.device import resolve_device
from specdyn.errors import ConfigError


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("lmc", help="train trunks and branches; barriers and agreement of pairs")
    p.add_argument("task", help="task name (see `specdyn tasks`)")
    p.add_argument("--preset", help="preset name (default: the task's default)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field of the trunks and branches (repeatable)",
    )
    p.add_argument("--trunks", type=int, default=3, help="trunk seeds (default: 3)")
    p.add_argument(
        "--branches", type=int, default=3, help="branch data orders per split (default: 3)"
    )
    p.add_argument("--splits", help="split steps, comma-separated (default: Appendix A.9's)")
    p.add_argument("--perturb", help="perturbation sizes eta, comma-separated (Figure 13)")
    p.add_argument("--perturb-step", type=int, help="split step of the perturbation (epoch 4)")
    p.add_argument("--norm-batches", type=int, default=20, help="BatchNorm batches (default: 20)")
    p.add_argument("--out", default="runs", help="folder that holds the design (default: runs)")
    add_backend_arguments(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from specdyn.config.overrides import apply_overrides, run_hash
    from specdyn.store import layout
    from specdyn.store.atomic import check_path_name
    from specdyn.tasks.registry import get_preset

    cfg = apply_overrides(get_preset(args.task, args.preset), args.overrides)
    from specdyn.analyses import lmc  # torch: after the names and keys are checked
    from specdyn.analyses.branching import summary
    from specdyn.analyses.plans import PERTURB_EPOCH, epoch_steps, lmc_splits
    from specdyn.figures.analyses import draw_lmc

    etas = _numbers(args.perturb, float, "--perturb") if args.perturb else ()
    splits = _numbers(args.splits, int, "--splits") if args.splits else ()
    if not args.splits and not args.perturb:
        splits = lmc_splits(cfg)
    step = PERTURB_EPOCH * epoch_steps(cfg) if args.perturb_step is None else args.perturb_step
    design = lmc.Design(
        cfg, args.trunks, args.branches, splits, etas, step if etas else 0, args.norm_batches
    )
    lmc.check(design)
    check_path_name(Path(args.out))
    resolve_device(args.device)
    run = execution(args)
    run.check()
    key = [run_hash(cfg), design.trunks, design.branches, splits, etas, step]
    if design.norm_batches != lmc.NORM_BATCHES:  # designs named before the option keep names
        key.append(design.norm_batches)
    text = json.dumps(key)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    root = Path(args.out) / layout.design_name(cfg.task, cfg.preset, digest)
    print(root, flush=True)
    points, outcomes = lmc.run_design(design, root, run)
    for line in summary(points, outcomes):
        print(line)
    if any(o.state != "done" for o in outcomes):
        print("specdyn: some trunks or branches failed; run the command again", file=sys.stderr)
        return 1
    for path in draw_lmc(root):
        print(path)
    return 0


def _numbers(text: str, kind: type, flag: str) -> tuple:
    try:
        return tuple(sorted({kind(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise ConfigError(f"{flag} expects comma-separated numbers, got '{text}'") from None
