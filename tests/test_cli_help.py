"""Every option of every subcommand is described, and a default is stated one way:
``(default: X)``, so that ``specdyn SUB --help`` answers what an option does and what it
is when not given."""

from __future__ import annotations

import argparse

import pytest

from specdyn.cli.main import Formatter, parser


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    top = parser()
    (sub,) = (a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(_subparsers()))
def test_every_argument_is_described_with_its_default(name):
    for action in _subparsers()[name]._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        flag = "/".join(action.option_strings) or action.dest
        assert action.help, f"specdyn {name} {flag} has no help"
        shown = Formatter("specdyn")._get_help_string(action)
        stated = action.default not in (None, False, [], argparse.SUPPRESS)
        if stated and action.option_strings:
            assert "(default: " in shown, f"specdyn {name} {flag}: {shown!r}"
        assert "(default " not in shown, f"specdyn {name} {flag}: {shown!r}"


def test_the_help_of_a_subcommand_prints_each_default_once(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["prune", "--help"])
    out = capsys.readouterr().out
    assert "(default: 0.5)" in out and out.count("(default: 0.5)") == 1
