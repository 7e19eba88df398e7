"""``specdyn``: the command line. Each subcommand lives in its own small module."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any, NoReturn, TextIO, cast

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


# the status of a process that wrote to a pipe nobody reads (128 + SIGPIPE), as a shell
# reports `yes | head -1`'s `yes`
BROKEN_PIPE = 141


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    guard = _PipeGuard(sys.stdout)
    sys.stdout = cast(TextIO, guard)
    try:
        code = _handle(args, argv)
        guard.flush()  # a closed pipe shows up here, not at exit
    finally:
        sys.stdout = guard.stream
    return BROKEN_PIPE if guard.broken and code == 0 else code


def _handle(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        return int(args.handler(args) or 0)
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


class _PipeGuard:
    """stdout that outlives its reader: once the pipe is closed (`specdyn analyze ... |
    head -1`), output goes to /dev/null and the command runs to its end instead of
    stopping half-way with its files half-written; ``main`` then exits with 141. A path
    that is not UTF-8 is printed with U+FFFD in place of its bad bytes, not a traceback."""

    def __init__(self, stream: TextIO):
        self.stream, self.broken = stream, False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._write(text)
            except BrokenPipeError:
                self._break()
        return len(text)

    def _write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except UnicodeEncodeError:  # a path whose name is not UTF-8: shown with U+FFFD
            raw = text.encode("utf-8", "surrogateescape")
            return self.stream.write(raw.decode("utf-8", "replace"))

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._break()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def _break(self) -> None:
        self.broken = True
        _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
