"""Every code block of README.md and docs/*.md runs, or is checked as far as it can be here.

- ```python blocks run, each in a fresh interpreter in an empty folder (so a snippet that
  needs a name it never defines, or a file the reader does not have, fails).
- ```bash blocks: every `specdyn ...` command is parsed by the real parser, and `run`,
  `sweep` and `lmc` commands have their config resolved and validated (unknown tasks,
  presets, keys and values fail) without training, since most of them train for minutes to
  hours; `pip install` extras must exist in pyproject.toml; `python FILE` scripts must
  exist. A command this test does not know fails it, so that a new kind of snippet gets a
  check.
- A block right after `<!-- needs: gpu -->`, `<!-- needs: network -->` or `<!-- needs:
  launcher -->` (a fragment of a program that torchrun starts on several processes; the
  full programs are tests/test_distributed*.py) is skipped, and says so. Plain ``` blocks
  (and ```text) are output or folder listings, not code.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"(<!-- needs: (\w+) -->\s*\n)?```(\w*)\n(.*?)```", re.S)
# shell commands shown for context that a test machine cannot or must not run
NOT_CHECKED = ("ray start", "apt-get", "cd ", "git ", "cat ", "ls", "du ", "export ", "torchrun ")


def blocks(kind: str) -> list[tuple[str, str, str]]:
    """(id, code, needs) of every block of ``kind`` in the docs."""
    found = []
    for path in FILES:
        text = path.read_text()
        for m in _BLOCK.finditer(text):
            if m.group(3) == kind:
                line = text[: m.start()].count("\n") + 1 + bool(m.group(1))
                found.append((f"{path.relative_to(ROOT)}:{line}", m.group(4), m.group(2) or ""))
    return found


PYTHON, BASH = blocks("python"), blocks("bash")


@pytest.mark.parametrize(("where", "code", "needs"), PYTHON, ids=[b[0] for b in PYTHON])
def test_python_blocks_run(where, code, needs, tmp_path):
    if needs:
        pytest.skip(f"{where} needs a {needs}")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"{where}:\n{proc.stderr[-3000:]}"


def commands(code: str) -> list[str]:
    """The shell commands of a block: continuation lines joined, comments, heredoc bodies
    and blank lines dropped, ``&&`` chains split, a leading ``time`` removed."""
    out, heredoc = [], None
    for line in code.replace("\\\n", " ").splitlines():
        if heredoc is not None:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if m := re.search(r"<<-?'?(\w+)'?", line):
            heredoc = m.group(1)
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            out += [part.strip().removeprefix("time ") for part in line.split("&&")]
    return out


@pytest.mark.parametrize(("where", "code", "needs"), BASH, ids=[b[0] for b in BASH])
def test_shell_commands_parse(where, code, needs):
    if needs:
        pytest.skip(f"{where} needs a {needs}")
    for command in commands(code):
        check_command(command, where)


def check_command(command: str, where: str) -> None:
    argv = shlex.split(command.replace("HASH", "ae8c4b59"))
    while argv and re.fullmatch(r"[A-Z_]+=\S*", argv[0]):  # environment variables
        argv = argv[1:]
    if argv[0] == "specdyn":
        _check_specdyn(argv[1:], where)
    elif argv[:2] == ["pip", "install"]:
        _check_extras(argv[2:], where)
    elif argv[0] == "python" and len(argv) > 1 and argv[1] not in ("-", "-m", "-c"):
        assert (ROOT / argv[1]).is_file(), f"{where}: no file {argv[1]}"
    elif argv[:3] == ["python", "-m", "pytest"] or argv[:2] == ["python", "-"]:
        pass  # the test suite itself; a heredoc's body is shown as a python block elsewhere
    else:
        assert command.startswith(NOT_CHECKED), f"{where}: this test does not know {command!r}"


def _check_specdyn(argv: list[str], where: str) -> None:
    from specdyn.cli.main import parser
    from specdyn.cli.run_cmd import resolve

    try:
        args = parser().parse_args(argv)
    except SystemExit as stop:
        raise AssertionError(f"{where}: `specdyn {shlex.join(argv)}` does not parse") from stop
    if args.command == "run":
        resolve(args)
    elif args.command in ("sweep", "lmc"):
        from specdyn.config.overrides import apply_overrides
        from specdyn.tasks.registry import get_preset

        apply_overrides(get_preset(args.task, args.preset), args.overrides)


def _check_extras(argv: list[str], where: str) -> None:
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    known = set(re.findall(r"^([\w-]+) = \[", section, re.M))
    for arg in argv:
        if m := re.fullmatch(r"-?e?\s*\.?\[([\w,-]+)\]", arg.strip("'\"")):
            assert set(m.group(1).split(",")) <= known, f"{where}: unknown extra in {arg}"


def test_every_doc_has_been_read():
    """The docs above are all there is: a new page is picked up without an edit here."""
    assert len(FILES) > 5 and PYTHON and BASH
