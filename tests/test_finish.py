"""The finish step: a real SIGKILL at several points inside it, then the same command again,
gives the run an uninterrupted run gives (the same rows, values and files, bit for bit).

The uninterrupted reference is the same command run the same way (a forked CLI process,
the same thread count): a seeded run repeats exactly only under the same kernels and
threads, and the test is about the resume, not about the machine."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from forked import run_cli

from specdyn import open_run
from specdyn.cli.main import main
from specdyn.config import run_hash
from specdyn.store import layout
from specdyn.store.tables import read_table
from specdyn.tasks import get_preset

TINY = ["run", "grokking", "--preset", "tiny", "--no-progress"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The run of ``TINY`` made by the CLI in one go, as the killed runs are made."""
    out = tmp_path_factory.mktemp("uninterrupted")
    stderr = out / "stderr"
    assert run_cli([*TINY, "--out", str(out)], stderr) == 0, stderr.read_text()
    (run_dir,) = (p for p in out.iterdir() if p.is_dir())
    return run_dir


def _run_and_kill(argv: list[str], name: str, when: str, armed_by: str = "") -> None:
    stderr = Path(tempfile.mkstemp(prefix="specdyn-stderr-")[1])
    code = run_cli(argv, stderr, kill_at_rename=(name, when, armed_by))
    message = stderr.read_text()
    stderr.unlink()
    assert code == -9, message  # it died of the SIGKILL, not otherwise


def _metric_names(run_dir) -> set[str]:
    return set(
        read_table(run_dir / layout.METRICS, layout.METRICS_COLUMNS, layout.METRICS_KEY)["metric"]
    )


def _leftovers(run_dir):
    return [p.name for p in run_dir.rglob(f"{layout.TMP_PREFIX}*")]


def test_sigkill_inside_finish_then_rerun_equals_an_uninterrupted_run(tmp_path, uninterrupted):
    argv = [*TINY, "--out", str(tmp_path)]
    run_dir = tmp_path / layout.run_name(
        "grokking", "tiny", run_hash(get_preset("grokking", "tiny"))
    )
    # 1. the agreement file is written to its temporary, not yet renamed into place
    _run_and_kill(argv, layout.AGREEMENT, "before")
    assert not (run_dir / layout.AGREEMENT).exists() and _leftovers(run_dir)
    # 2. the agreement file is in place, its rows are not in the metrics yet
    _run_and_kill(argv, layout.AGREEMENT, "after")
    assert (run_dir / layout.AGREEMENT).exists() and "agreement" not in _metric_names(run_dir)
    assert not _leftovers(run_dir)  # the temporary of kill 1 was removed on reopening
    # 3. the agreement rows are in the temporary of a metrics part, not renamed (the resumed
    # finish step writes nothing before them)
    _run_and_kill(argv, "metrics.*.parquet", "before")
    assert "agreement" not in _metric_names(run_dir)
    # 4. the rows are in a part; the compacted table is in its temporary, not renamed
    _run_and_kill(argv, layout.METRICS, "before")
    assert "agreement" in _metric_names(run_dir) and layout.part_files(run_dir / layout.METRICS)
    assert "agreement" not in set(pd.read_parquet(run_dir / layout.METRICS)["metric"])
    assert main(argv) == 0
    assert layout.part_files(run_dir / layout.METRICS) == []
    _assert_same_run(open_run(run_dir), open_run(uninterrupted))
    assert not _leftovers(run_dir)


def _assert_same_run(run, reference) -> None:
    pd.testing.assert_frame_equal(run.metrics, reference.metrics)  # rows and values, exact
    pd.testing.assert_frame_equal(run.history, reference.history)
    assert run.gaps() == [] and run.checkpoint_steps == reference.checkpoint_steps
    for name in reference.matrices:
        np.testing.assert_array_equal(run.agreement(name)[1], reference.agreement(name)[1])
    for key, value in reference.checkpoint(20).items():
        torch.testing.assert_close(run.checkpoint(20)[key], value, rtol=0, atol=0)


def test_sigkill_while_the_vectors_are_thinned_then_rerun_equals_an_uninterrupted_run(
    tmp_path, uninterrupted
):
    """vector_points=2 keeps the vectors of steps 0 and 20 of the 5 recorded: the finish
    rewrites steps 5, 10 and 15 without them after the agreement; a kill after the first
    rewrite, then the same command, gives what an uninterrupted run gives (which thinning
    leaves equal to the unthinned run but for the dropped vectors)."""
    argv = [*TINY, "--set", "vector_points=2", "--out", str(tmp_path)]
    _run_and_kill(argv, "step_*.safetensors", "after", layout.AGREEMENT)
    (run_dir,) = tmp_path.iterdir()
    assert open_run(run_dir).vector_steps == [0, 10, 15, 20]  # step 5 rewritten, then killed
    assert main(argv) == 0
    run, reference = open_run(run_dir), open_run(uninterrupted)
    _assert_same_run(run, reference)
    assert run.steps.tolist() == reference.steps.tolist() == [0, 5, 10, 15, 20]
    assert run.vector_steps == [0, 20] and reference.vector_steps == [0, 5, 10, 15, 20]
    for name in reference.matrices:
        for step in (0, 20):
            for a, b in zip(run.vectors(name, step), reference.vectors(name, step), strict=True):
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(
            run.singular_values(name)[1], reference.singular_values(name)[1]
        )
