"""The ``tiny`` run of every task gives the numbers it gave before the code was reorganised.

``tests/golden_tiny_runs.json`` holds, per task, the run hash of every preset, the
history table, every metric at the last recorded step, the agreement diagonal at the
first step, the artifacts' sums, the data source and the files written; a fresh tiny run
must reproduce them to 1e-6 relative. Regenerate the file (only when a change of results
is intended, and say so in the commit) with ``PYTHONPATH=$PWD python tests/test_golden.py``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from specdyn import open_run
from specdyn.config import run_hash
from specdyn.tasks import TASKS

GOLDEN = Path(__file__).with_name("golden_tiny_runs.json")
RTOL, ATOL = 1e-6, 1e-9
SKIP_CONFIG = ("environment", "figures")  # machine-dependent / not a result


def summarize(run_dir: Path) -> dict[str, Any]:
    """What must not change about a finished run, as plain JSON values."""
    run = open_run(run_dir)
    last = run.metrics[run.metrics["step"] == run.metrics["step"].max()]
    agreement = {m: run.agreement(m)[1][0].tolist() for m in run.matrices}
    return {
        "config": {k: v for k, v in run.config.items() if k not in SKIP_CONFIG},
        "files": sorted(  # .lock: the writer's lock file, not part of the record
            str(p.relative_to(run_dir))
            for p in run_dir.rglob("*")
            if p.is_file() and p.name != ".lock"
        ),
        "steps": run.steps.tolist(),
        "history": json.loads(run.history.to_json(orient="records")),
        "metrics": {f"{r.matrix}|{r.metric}": float(r.value) for r in last.itertuples()},
        "agreement_first": agreement,
        "artifacts": {k: float(v.astype("float64").sum()) for k, v in run.artifacts().items()},
    }


def preset_hashes() -> dict[str, dict[str, str]]:
    return {name: {p: run_hash(c) for p, c in t.presets.items()} for name, t in TASKS.items()}


def assert_close(got: Any, want: Any, where: str = "") -> None:
    """Equal structure; floats equal to RTOL relative (ATOL near zero); the rest exactly."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), where
        for key in want:
            assert_close(got[key], want[key], f"{where}/{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert math.isclose(got, want, rel_tol=RTOL, abs_tol=ATOL), f"{where}: {got} != {want}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


def test_run_hashes_of_every_preset_are_unchanged(golden):
    assert preset_hashes() == golden["hashes"]


@pytest.mark.parametrize("task", sorted(TASKS))
def test_tiny_run_matches_the_golden_values(task, golden, tiny_task_run):
    got, want = summarize(tiny_task_run(task)), golden["runs"][task]
    got["config"] = _known_fields(got["config"], want["config"])
    assert_close(got, want, task)


def _known_fields(config: dict, golden: dict) -> dict:
    """``config`` without the fields added since the golden values were taken (a field
    added with a default leaves every older result as it was)."""
    return {
        k: _known_fields(v, golden[k])
        if isinstance(v, dict) and isinstance(golden.get(k), dict)
        else v
        for k, v in config.items()
        if k in golden
    }


def _write(out: Path) -> None:
    import tempfile

    import torch

    from specdyn.tasks import get_preset
    from specdyn.train import train

    torch.set_num_threads(1)  # as the tiny_task_run fixture trains
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task in sorted(TASKS):
            run_dir = train(get_preset(task, "tiny"), Path(tmp) / task, torch.device("cpu"), False)
            runs[task] = summarize(run_dir)
    out.write_text(json.dumps({"hashes": preset_hashes(), "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    _write(Path(sys.argv[1]) if len(sys.argv) > 1 else GOLDEN)
