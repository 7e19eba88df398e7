"""Bad input to the CLI: one `specdyn: error:` line, exit 2, no traceback, nothing written.

Each case is a command line as a new user would type it ({run}: a copy of a finished tiny
run, broken first by ``BREAKS`` when the case names a break; {tmp}: the test's folder, which
is also the working directory). After the command, every file under {tmp} must be as it was:
no new file or folder, and the run's own files untouched. docs/reliability.md lists them.
"""

from __future__ import annotations

import hashlib
import json
import random
import shlex
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from specdyn.cli.main import main
from specdyn.store import layout

TABLE = Path(__file__).with_name("bad_inputs.tsv")
NON_UTF8 = b"\xff".decode("utf-8", "surrogateescape")  # a name as a Linux shell may pass it
RUN_NAME = "grokking-tiny-96fb30a7"  # the tiny grokking run's folder name (tests/test_golden.py)
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


def _final_checkpoint(run: Path) -> Path:
    return layout.step_files(run / layout.CHECKPOINTS)[-1]


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _flip_tensor_data(path: Path) -> None:
    """One bit flipped in the middle of a safetensors file's data: the header still reads."""
    header = int.from_bytes(path.read_bytes()[:8], "little")
    _flip(path, 8 + header + (path.stat().st_size - 8 - header) // 2)


def _flip_zip_member(path: Path) -> None:
    """One bit flipped inside the largest member of a torch (zip) file."""
    with zipfile.ZipFile(path) as archive:
        info = max(archive.infolist(), key=lambda i: i.file_size)
    local = path.read_bytes()[info.header_offset : info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(local[26:28], "little")
    _flip(path, start + int.from_bytes(local[28:30], "little") + info.file_size // 2)


def _edit_config(run: Path, change: Callable[[dict], object]) -> None:
    config = json.loads((run / layout.CONFIG).read_text())
    change(config)
    (run / layout.CONFIG).write_text(json.dumps(config))


def _huge_header(path: Path) -> None:
    path.write_bytes((2**62).to_bytes(8, "little") + path.read_bytes()[8:])


BREAKS: dict[str, Callable[[Path], object]] = {
    "config-list": lambda run: (run / layout.CONFIG).write_text("[1, 2]"),
    "config-invalid": lambda run: (run / layout.CONFIG).write_text('{"task": '),
    "config-binary": lambda run: (run / layout.CONFIG).write_bytes(b"\xff\xfe\x00garbage"),
    "metrics-truncated": lambda run: _truncate(run / layout.METRICS),
    "history-garbage": lambda run: (run / layout.HISTORY).write_bytes(b"not parquet"),
    "spectra-gone": lambda run: shutil.rmtree(run / layout.SPECTRA),
    "spectra-truncated": lambda run: _truncate(_spectra(run)),
    "artifacts-garbage": lambda run: (run / layout.ARTIFACTS).write_bytes(b"\x08" + b"\x00" * 7),
    "checkpoint-random": lambda run: _final_checkpoint(run).write_bytes(
        random.Random(0).randbytes(_final_checkpoint(run).stat().st_size)
    ),
    "checkpoint-bitflip": lambda run: _flip_tensor_data(_final_checkpoint(run)),
    "checkpoint-huge-header": lambda run: _huge_header(_final_checkpoint(run)),
    "checkpoint-truncated": lambda run: _truncate(_final_checkpoint(run)),
    "checkpoint-extended": lambda run: _final_checkpoint(run).write_bytes(
        _final_checkpoint(run).read_bytes() + b"\x00" * 16
    ),
    "spectra-bitflip": lambda run: _flip_tensor_data(layout.step_files(run / layout.SPECTRA)[1]),
    "agreement-bitflip": lambda run: _flip_tensor_data(run / layout.AGREEMENT),
    "agreement-random": lambda run: (run / layout.AGREEMENT).write_bytes(
        random.Random(1).randbytes(4096)
    ),
    "state-bitflip": lambda run: _flip_zip_member(run / layout.STATE),
    "state-truncated": lambda run: _truncate(run / layout.STATE),
    "metrics-bitflip": lambda run: _flip(run / layout.METRICS, 64),
    "history-bitflip": lambda run: _flip(run / layout.HISTORY, 64),
    "config-steps-text": lambda run: _edit_config(run, lambda c: c["train"].update(steps="twenty")),
    "config-lr-text": lambda run: _edit_config(run, lambda c: c["optim"].update(lr="fast")),
    "config-top-k-float": lambda run: _edit_config(run, lambda c: c["record"].update(top_k=2.5)),
    "config-at-text": lambda run: _edit_config(run, lambda c: c["record"].update(at="5,10")),
    "config-task-unknown": lambda run: _edit_config(run, lambda c: c.update(task="nosuch")),
    "config-model-list": lambda run: _edit_config(run, lambda c: c.update(model=[1])),
    "config-hash-number": lambda run: _edit_config(run, lambda c: c.update(hash=5)),
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


def _fill(arg: str, names: dict[str, str]) -> str:
    for name, value in names.items():
        arg = arg.replace(name, value)
    return arg


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
    run = tmp_path / "runs" / RUN_NAME  # where `$GROK` finds it: a resume of that run
    shutil.copytree(tiny_run, run)
    if case.broken:
        BREAKS[case.broken](run)
    (tmp_path / "afile").write_text("a file, not a folder\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "huge").mkdir()  # a weights file whose header length is 2^62
    (tmp_path / "huge" / "model.safetensors").write_bytes((2**62).to_bytes(8, "little") + b"{}")
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    names = {"{run}": str(run), "{tmp}": str(tmp_path), "{nonutf8}": NON_UTF8}
    argv = [_fill(a, names) for a in case.argv]
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


def test_there_are_at_least_250_distinct_cases():
    assert len({c.id for c in CASES}) == len(CASES) >= 250
    commands = {"run", "show", "plot", "compare", "report", "sweep", "reproduce", "analyze"}
    assert {c.argv[0] for c in CASES if c.argv} >= commands | {"prune", "lottery", "lmc", "tasks"}
