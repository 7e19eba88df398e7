"""``specdyn``: the command line. Each subcommand lives in its own small module."""

from __future__ import annotations

import argparse
import sys

from specdyn.cli import (
    analyze_cmd,
    compare_cmd,
    lmc_cmd,
    lottery_cmd,
    plot_cmd,
    prune_cmd,
    report_cmd,
    reproduce_cmd,
    run_cmd,
    show_cmd,
    sweep_cmd,
    tasks_cmd,
)
from specdyn.errors import SpecdynError

COMMANDS = (
    tasks_cmd,
    run_cmd,
    plot_cmd,
    compare_cmd,
    show_cmd,
    report_cmd,
    sweep_cmd,
    reproduce_cmd,
    prune_cmd,
    lottery_cmd,
    lmc_cmd,
    analyze_cmd,
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="specdyn", description="Spectral dynamics of weights: train, record, analyse."
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except SpecdynError as err:
        print(f"specdyn: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a path that cannot be written or read
        print(f"specdyn: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("specdyn: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
