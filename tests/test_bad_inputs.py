"""Bad input to the CLI: one `specdyn: error:` line, exit 2, no traceback, nothing written.

Each case is a command line as a new user would type it ({run}: a copy of a finished tiny
run, broken first by ``BREAKS`` when the case names a break; {tmp}: the test's folder, which
is also the working directory). After the command, every file under {tmp} must be as it was:
no new file or folder, and the run's own files untouched. docs/reliability.md lists them.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from specdyn.cli.main import main
from specdyn.store import layout

TABLE = Path(__file__).with_name("bad_inputs.tsv")
# Prefixes a command in the table may start with, to keep its lines short.
PREFIXES = {
    "$TINY": "--preset tiny --no-progress --out {tmp}/runs",
    "$GROK": "run grokking --preset tiny --no-progress --out {tmp}/runs",
    "$SWEEP": "sweep grokking --preset tiny --out {tmp}/sweeps",
    "$LOTTERY": "lottery {run} --mask magnitude",
    "$LMC": "lmc grokking --preset tiny --no-progress --out {tmp}/runs",
}


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _spectra(run: Path) -> Path:
    return layout.step_files(run / layout.SPECTRA)[-1]


BREAKS: dict[str, Callable[[Path], object]] = {
    "config-list": lambda run: (run / layout.CONFIG).write_text("[1, 2]"),
    "config-invalid": lambda run: (run / layout.CONFIG).write_text('{"task": '),
    "config-binary": lambda run: (run / layout.CONFIG).write_bytes(b"\xff\xfe\x00garbage"),
    "metrics-truncated": lambda run: _truncate(run / layout.METRICS),
    "history-garbage": lambda run: (run / layout.HISTORY).write_bytes(b"not parquet"),
    "spectra-gone": lambda run: shutil.rmtree(run / layout.SPECTRA),
    "spectra-truncated": lambda run: _truncate(_spectra(run)),
    "artifacts-garbage": lambda run: (run / layout.ARTIFACTS).write_bytes(b"\x08" + b"\x00" * 7),
}


class Case(NamedTuple):
    """One line of ``bad_inputs.tsv``."""

    id: str
    exit: int
    fragment: str  # of the one error line
    broken: str  # a key of BREAKS, or ""
    argv: list[str]


def read_table(path: Path = TABLE) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        assert len(fields) == 5, f"{path.name}:{number}: 5 tab-separated fields, got {fields}"
        id_, code, fragment, broken, command = fields
        for prefix, words in PREFIXES.items():
            command = command.replace(prefix, words)
        broken = "" if broken == "-" else broken
        assert not broken or broken in BREAKS, f"{path.name}:{number}: unknown break {broken}"
        cases.append(Case(id_, int(code), fragment, broken, shlex.split(command)))
    return cases


CASES = read_table()


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` -> a digest of its content ("dir" for folders)."""
    return {
        str(p.relative_to(root)): "dir"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
    }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tiny_run, tmp_path, monkeypatch, capsys, case
):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    if case.broken:
        BREAKS[case.broken](run)
    (tmp_path / "afile").write_text("a file, not a folder\n")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    argv = [a.replace("{run}", str(run)).replace("{tmp}", str(tmp_path)) for a in case.argv]
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own exit
        code = exit.code
    err = capsys.readouterr().err
    assert code == case.exit, err
    assert err.count("\n") == 1 and err.startswith("specdyn: error: "), err
    assert case.fragment in err, err
    assert "Traceback" not in err
    assert _snapshot(tmp_path) == before, "a bad input left files behind or changed some"


def test_there_are_at_least_80_distinct_cases():
    assert len({c.id for c in CASES}) == len(CASES) >= 80
    commands = {"run", "show", "plot", "compare", "report", "sweep", "reproduce", "analyze"}
    assert {c.argv[0] for c in CASES} >= commands | {"prune", "lottery", "lmc", "tasks"}
