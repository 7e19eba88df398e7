"""Corrupt or incomplete run folders: one line naming the file, exit 2, nothing executed,
nothing overwritten; readers that can go on (``show``) warn instead."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
import torch

from specdyn.cli.main import main
from specdyn.store import layout

TINY = ["run", "grokking", "--preset", "tiny", "--no-progress", "--out"]


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A copy of the finished tiny run under the folder name `specdyn run` gives it."""
    from specdyn.config import run_hash
    from specdyn.tasks import get_preset

    target = tmp_path / layout.run_name(
        "grokking", "tiny", run_hash(get_preset("grokking", "tiny"))
    )
    shutil.copytree(tiny_run, target)
    return target


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2 and err.startswith("specdyn: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


def _files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_deleted_spectra_file_is_named_by_show_and_plot(run_copy, capsys):
    missing = layout.step_file(run_copy / layout.SPECTRA, 10)
    missing.unlink()
    code, out, err = _cli(capsys, "show", run_copy)
    assert code == 0 and "final spectra" in out
    assert err.startswith("specdyn: warning: ") and f"'{missing}' is missing" in err
    code, _, err = _cli(capsys, "plot", run_copy)
    _one_error(code, err, f"'{missing}' is missing")
    assert not (run_copy / layout.FIGURES).exists()  # nothing drawn from a partial run
    code, _, err = _cli(capsys, *TINY, run_copy.parent)  # a lost record cannot be redone
    _one_error(code, err, "cannot be completed", f"'{missing}' is missing")


def test_a_finished_run_missing_final_parts_is_completed_by_the_same_command(
    run_copy, tiny_run, capsys
):
    import pandas as pd

    from specdyn import open_run

    for path in (layout.step_file(run_copy / layout.CHECKPOINTS, 20), run_copy / layout.AGREEMENT):
        path.unlink()
    frame = pd.read_parquet(run_copy / layout.HISTORY)
    frame[frame["step"] != 20].to_parquet(run_copy / layout.HISTORY, index=False)
    code, _, _ = _cli(capsys, *TINY, run_copy.parent)
    run, reference = open_run(run_copy), open_run(tiny_run)
    assert code == 0 and run.gaps() == []
    pd.testing.assert_frame_equal(run.history, reference.history)
    key = ["step", "matrix", "metric"]  # the redone final record's rows come after the others
    pd.testing.assert_frame_equal(
        run.metrics.sort_values(key, ignore_index=True),
        reference.metrics.sort_values(key, ignore_index=True),
    )
    assert (run.checkpoint(20)["embed.weight"] == reference.checkpoint(20)["embed.weight"]).all()


def test_plot_without_a_spectra_folder_is_one_line(run_copy, capsys):
    shutil.rmtree(run_copy / layout.SPECTRA)
    code, _, err = _cli(capsys, "plot", run_copy)
    _one_error(code, err, "step_00000000.safetensors' is missing", "(and ")
    assert not (run_copy / layout.FIGURES).exists()
    code, _, err = _cli(capsys, "compare", run_copy, "--out", run_copy / "c.png")
    _one_error(code, err, "is missing")


def test_spectra_without_metrics_rows_and_a_stale_agreement_are_named(run_copy, capsys):
    metrics = run_copy / layout.METRICS
    import pandas as pd

    frame = pd.read_parquet(metrics)
    frame[frame["step"] != 15].to_parquet(metrics, index=False)
    code, _, err = _cli(capsys, "plot", run_copy)
    _one_error(code, err, f"'{metrics}' has no rows for step 15")
    frame.to_parquet(metrics, index=False)
    layout.step_file(run_copy / layout.SPECTRA, 15).unlink()
    frame[frame["step"] != 15].to_parquet(metrics, index=False)
    code, _, err = _cli(capsys, "plot", run_copy)
    _one_error(code, err, f"'{run_copy / layout.AGREEMENT}' covers 5 steps but the run recorded 4")


@pytest.mark.parametrize(
    "content, message",
    [
        ("[1, 2]", "holds a list, not an object"),
        ("{not json", "is not valid JSON"),
        ('{"preset": "tiny"}', "lacks the field 'task'"),
        ('{"task": "grokking", "figures": [1]}', "field 'figures' is a list, not dict"),
    ],
)
def test_a_malformed_config_is_one_line_in_every_reader(run_copy, capsys, content, message):
    config = run_copy / layout.CONFIG
    config.write_text(content)
    before = _files(run_copy)
    for argv in (["show", run_copy], ["plot", run_copy], TINY + [run_copy.parent]):
        code, _, err = _cli(capsys, *argv)
        _one_error(code, err, f"'{config}'", message)
    assert _files(run_copy) == before  # nothing overwritten, nothing written


def test_resuming_without_config_json_is_refused(run_copy, capsys):
    (run_copy / layout.CONFIG).unlink()
    before = _files(run_copy)
    code, _, err = _cli(capsys, *TINY, run_copy.parent)
    _one_error(code, err, "holds run files but no config.json", "restore config.json")
    assert _files(run_copy) == before


def test_a_truncated_table_is_named_and_kept(run_copy, capsys):
    metrics = run_copy / layout.METRICS
    metrics.write_bytes(metrics.read_bytes()[:100])
    before = _files(run_copy)
    for argv in (["show", run_copy], ["plot", run_copy], TINY + [run_copy.parent]):
        code, _, err = _cli(capsys, *argv)
        _one_error(code, err, f"'{metrics}'", "Parquet")
    assert _files(run_copy) == before


class Payload:
    """A pickle that runs code when loaded by an unsafe unpickler."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize(
    "state, message",
    [
        ("pickle", "is unreadable: "),
        ({"step": 20, "model": {}}, "lacks done, optimizer, scheduler, rng"),
        (
            {"step": "x", "done": 1, "model": {}, "optimizer": {}, "scheduler": {}, "rng": 0},
            "holds a malformed step",
        ),
        ("truncated", "is unreadable: "),
    ],
)
def test_a_bad_resume_state_is_one_line_and_never_executed(
    run_copy, capsys, tmp_path, state, message
):
    path, marker = run_copy / layout.STATE, tmp_path / "executed"
    if state == "pickle":
        path.write_bytes(pickle.dumps({"step": Payload(marker)}))
    elif state == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    else:
        torch.save(state, path)
    before = _files(run_copy)
    code, _, err = _cli(capsys, *TINY, run_copy.parent)
    _one_error(code, err, f"resume state '{path}'", message)
    assert not marker.exists() and _files(run_copy) == before


def test_a_state_that_does_not_fit_the_model_is_one_line(run_copy, capsys):
    path = run_copy / layout.STATE
    state = torch.load(path, weights_only=True)
    state["model"] = {"embed.weight": torch.zeros(3, 3)}
    torch.save(state, path)
    code, _, err = _cli(capsys, *TINY, run_copy.parent)
    _one_error(code, err, f"resume state '{path}' does not fit this run")


def test_config_read_by_open_run_is_validated(run_copy):
    from specdyn import open_run
    from specdyn.errors import RunStoreError

    (run_copy / layout.CONFIG).write_text(json.dumps(["a list"]))
    with pytest.raises(RunStoreError, match="not an object"):
        open_run(run_copy)
