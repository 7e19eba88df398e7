"""The command line starts at once: help, `tasks`, `show` of a finished run and every
usage mistake below run without importing torch (each in a fresh interpreter, since a test
process has torch loaded already). The CPU time this saves is measured by
``benchmarks/cli_startup.py``, not here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_PROBE = """
import json, sys
from specdyn.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "torch": "torch" in sys.modules}), file=sys.stderr)
"""


def _start(argv: list[str], cwd) -> tuple[int, bool, str]:
    """(exit code, whether torch was imported, the first line of stderr)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    *said, probe = proc.stderr.strip().splitlines()
    result = json.loads(probe)
    return result["code"], result["torch"], said[0] if said else ""


CASES = [
    (["--help"], 0, ""),
    (["tasks"], 0, ""),
    (["tasks", "grokking"], 0, ""),
    (["tasks", "nosuch"], 2, "unknown task 'nosuch'"),
    (["run", "--help"], 0, ""),
    (["analyze", "--help"], 0, ""),
    (["run", "nosuch"], 2, "unknown task 'nosuch'"),
    (["run", "grokking", "--preset", "nope"], 2, "unknown preset 'nope'"),
    (["run", "grokking", "--set", "lr=-1"], 2, "optim.lr=-1.0 is not allowed"),
    (["run", "grokking", "--set", "nokey=1"], 2, "unknown key 'nokey'"),
    (["run", "grokking", "--device", "tpu"], 2, "unknown device 'tpu'"),
    (["run", "grokking", "--threads", "0"], 2, "--threads must be at least 1"),
    (["show", "nowhere"], 2, "is not a specdyn run"),
    (["plot", "nowhere"], 2, "is not a specdyn run"),
    (["compare", "nowhere"], 2, "is not a specdyn run"),
    (["report", "nowhere"], 2, "is not a run or sweep folder"),
    (["sweep", "nosuch", "--grid", "lr=1,2"], 2, "unknown task 'nosuch'"),
    (["sweep", "grokking", "--grid", "nokey=1"], 2, "unknown key 'nokey'"),
    (["prune", "nowhere"], 2, "is not a specdyn run"),
    (["lottery", "nowhere", "--mask", "magnitude"], 2, "is not a specdyn run"),
    (["lmc", "nosuch"], 2, "unknown task 'nosuch'"),
    (["analyze", "nowhere"], 2, "'nowhere' does not exist"),
]


@pytest.mark.parametrize(("argv", "code", "message"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_help_tasks_and_usage_mistakes_never_import_torch(argv, code, message, tmp_path):
    got, torch_loaded, said = _start(argv, tmp_path)
    assert (got, torch_loaded) == (code, False), said
    assert message in said
    assert list(tmp_path.iterdir()) == []  # nothing written either


def test_show_of_a_finished_run_needs_no_torch(tiny_run, tmp_path):
    """(``--baselines`` adds a Monte Carlo over random matrices: that one takes torch.)"""
    code, torch_loaded, said = _start(["show", str(tiny_run)], tmp_path)
    assert (code, torch_loaded) == (0, False), said
