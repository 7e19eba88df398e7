"""``specdyn report RUN_OR_SWEEP...``: one self-contained interactive HTML report."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from specdyn.cli.common import Subparsers
from specdyn.errors import ConfigError, SpecdynError


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("report", help="write an interactive HTML report of runs or sweeps")
    p.add_argument(
        "paths",
        type=Path,
        nargs="+",
        metavar="RUN_OR_SWEEP",
        help="run folders, sweep folders or folders of runs",
    )
    p.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file to write")
    p.add_argument("--allow-mixed", action="store_true", help="allow runs of different tasks")
    p.add_argument("--watch", action="store_true", help="re-write the report until interrupted")
    p.add_argument(
        "--every", type=float, help="seconds between re-writes with --watch (default: 30)"
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from specdyn.report import check_out, open_runs, plotly_js, write_report

    if args.every is not None and not args.watch:
        raise ConfigError("--every is only used with --watch")
    args.every = 30.0 if args.every is None else args.every
    if not (math.isfinite(args.every) and args.every > 0):
        raise ConfigError(f"--every must be a positive number of seconds, got {args.every}")
    check_out(args.out)
    plotly_js()  # say now, not after reading every run, when plotly is missing
    runs = open_runs(args.paths, args.allow_mixed)
    refresh = max(1, round(args.every)) if args.watch else None
    print(write_report(runs, args.out, refresh, _names(args.paths)), flush=True)
    if args.watch:
        watch(args, refresh)
    return 0


def watch(args: argparse.Namespace, refresh: int | None, rounds: int | None = None) -> None:
    """Re-read the runs and re-write the report every ``args.every`` seconds until Ctrl-C
    (or ``rounds`` times); a failed refresh is reported and the next one tried."""
    from specdyn.report import open_runs, write_report

    done = 0
    try:
        while rounds is None or done < rounds:
            time.sleep(args.every)
            done += 1
            try:
                runs = open_runs(args.paths, args.allow_mixed)
                write_report(runs, args.out, refresh, _names(args.paths))
            except (SpecdynError, OSError) as err:
                print(f"specdyn: report not refreshed: {err}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print(f"specdyn: stopped watching; last report in {args.out}", file=sys.stderr)


def _names(paths: list[Path]) -> list[str]:
    return [path.resolve().name or str(path) for path in paths]
