"""``specdyn``: the command line. Each subcommand lives in its own small module."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any, NoReturn

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
from specdyn.errors import Interrupted, SpecdynError

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


class Formatter(argparse.HelpFormatter):
    """Help that states every option's default one way, ``(default: X)``, unless its text
    already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default in (None, False, [], argparse.SUPPRESS)
        if "(default" in text or unset or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse with usage mistakes reported like every other error: one line, exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"specdyn: error: {message} (see `{self.prog} --help`)\n")


def parser() -> argparse.ArgumentParser:
    about = "Spectral dynamics of weights: train, record, analyse."
    top = Parser(prog="specdyn", description=about)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    try:
        code = args.handler(args) or 0
        sys.stdout.flush()  # a closed pipe shows up here, not at exit
        return code
    except BrokenPipeError:  # `specdyn tasks | head`: the reader has gone; so do we, quietly
        _silence_stdout()
        return 0
    except (SpecdynError, OSError) as err:  # OSError: a path that cannot be written or read
        print(f"specdyn: error: {err}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        again = shlex.join(["specdyn", *argv])
        print(f"specdyn: {stop}; to resume, run the same command: {again}", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print("specdyn: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
