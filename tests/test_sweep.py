"""Sweeps: validation before anything runs, points and folders, states, open_sweep."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from specdyn import open_sweep
from specdyn.cli.main import main
from specdyn.config import apply_overrides, run_hash
from specdyn.errors import ConfigError
from specdyn.sweep import SweepSpec, run_sweep, summary_lines
from specdyn.sweep.spec import expand, parse_grid_args, sweep_name
from specdyn.tasks import get_preset

TINY = ("steps=10", "every=5", "eval_every=5")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--grid", "foo=1,2"], "unknown key 'foo'"),
        (["--grid", "weight_decay="], "has no values"),
        (["--grid", "modulus=7,7.5"], "bad value '7.5' for 'data.modulus' (int)"),
        (["--grid", "weight_decay=x"], "bad value 'x'"),
        (["--grid", "weight_decay=0,0.0"], "repeats a value"),
        (["--grid", "weight_decay=0", "--grid", "optim.weight_decay=1"], "given twice"),
        (["--grid", "weight_decay=0,1", "--seeds", "0,1,0"], "duplicate seeds"),
        (["--seeds", "3"], "the grid is empty"),
        (["--grid", "seed=1,2"], "--seeds"),
        (["--grid", "weight_decay=0,1", "--backend", "dask"], "unknown backend 'dask'"),
        (["--grid", "weight_decay=0,1", "--backend", "ray", "--address", "127.0.0.1:9"], "ray"),
        (["--grid", "weight_decay=0,1", "--address", "auto"], "--address is for --backend ray"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_anything_runs(tmp_path, capsys, args, message):
    code = main(["sweep", "grokking", "--preset", "tiny", "--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("specdyn: error: ") and err.count("\n") == 1
    assert message.lower() in err.lower()
    assert list(tmp_path.iterdir()) == []


def test_unreachable_address_is_named(tmp_path, capsys):
    args = ["--grid", "weight_decay=0,1", "--backend", "ray", "--address", "127.0.0.1:9"]
    assert main(["sweep", "grokking", "--preset", "tiny", "--out", str(tmp_path), *args]) == 2
    assert "unreachable" in capsys.readouterr().err


def test_address_auto_checks_the_cluster_it_would_join(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    args = ["--grid", "weight_decay=0,1", "--backend", "ray", "--address", "auto"]
    assert main(["sweep", "grokking", "--preset", "tiny", "--out", str(tmp_path), *args]) == 2
    assert "127.0.0.1:9" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_points_are_the_cross_product_in_run_folders_named_like_specdyn_run(tmp_path):
    base = get_preset("grokking", "tiny")
    grid = parse_grid_args(["weight_decay=0,0.5", "lr=1e-3,2e-3,3e-3"], base)
    spec = SweepSpec("grokking", "tiny", grid, seeds=(0, 1))
    points = expand(spec, tmp_path)
    assert len(points) == 2 * 3 * 2
    assert len({p.run_dir for p in points}) == len(points)
    for p in points:
        values = dict(p.values)
        assert (p.cfg.optim.weight_decay, p.cfg.optim.lr, p.cfg.seed) == (
            values["weight_decay"],
            values["lr"],
            p.seed,
        )
        by_hand = apply_overrides(
            base, [f"weight_decay={values['weight_decay']}", f"lr={values['lr']}", f"seed={p.seed}"]
        )
        assert p.run_dir.name == f"grokking-tiny-{run_hash(by_hand)}"


def test_tuple_values_are_separated_by_semicolons():
    grid = parse_grid_args(["betas=0.9,0.98;0.8,0.9"], get_preset("grokking", "tiny"))
    assert grid == (("betas", ("0.9,0.98", "0.8,0.9")),)


def test_the_sweep_folder_depends_on_what_is_run_not_how():
    spec = SweepSpec("grokking", "tiny", (("weight_decay", ("0", "1")),), (0, 1))
    same = SweepSpec("grokking", "tiny", (("optim.weight_decay", ("0.0", "1e0")),), (0, 1), (),
                     "ray", 4)  # fmt: skip
    other = SweepSpec("grokking", "tiny", (("weight_decay", ("0", "1")),), (0, 2))
    assert sweep_name(spec) == sweep_name(same) != sweep_name(other)
    with pytest.raises(ConfigError):
        sweep_name(SweepSpec("grokking", "tiny", (("weight_decay", ("0",)),), (0, 0)))


def test_a_grid_of_typed_values_is_the_grid_of_their_strings():
    typed = SweepSpec("grokking", "tiny", (("weight_decay", (0, 1.0)),), (0, 1))
    strings = SweepSpec("grokking", "tiny", (("weight_decay", ("0", "1")),), (0, 1))
    assert sweep_name(typed) == sweep_name(strings)
    assert [p.cfg.optim.weight_decay for p in expand(typed, Path("x"))] == [0.0, 0.0, 1.0, 1.0]
    for key, bad in (("weight_decay", True), ("steps", 1.5), ("milestones", 3), ("lr", None)):
        with pytest.raises(ConfigError, match=f"bad value {bad!r} for"):
            sweep_name(SweepSpec("grokking", "tiny", ((key, (bad,)),), (0, 1)))


@pytest.fixture(scope="module")
def failing_sweep(tmp_path_factory):
    """2 x 2 points: lr=1e30 passes validation (every point is validated before any runs)
    but diverges in training."""
    spec = SweepSpec("grokking", "tiny", (("lr", ("0.001", "1e30")),), (0, 1), TINY)
    out = tmp_path_factory.mktemp("sweeps")
    return spec, out, run_sweep(spec, out, progress=False)


def test_a_failing_point_does_not_stop_the_others(failing_sweep):
    _, _, result = failing_sweep
    states = [p["state"] for p in result.manifest["points"]]
    assert states == ["done", "done", "failed", "failed"]
    assert "DivergedError" in result.manifest["points"][2]["error"]
    assert result.failed == [2, 3]
    lines = summary_lines(result)
    assert len(lines) == 4 and "failed" in lines[3] and "seed=1" in lines[3]
    saved = json.loads((result.path / "sweep.json").read_text())
    assert saved == result.manifest
    assert saved["grid"] == [{"key": "lr", "path": "optim.lr", "values": [0.001, 1e30]}]


def test_rerunning_skips_finished_points(failing_sweep):
    spec, out, first = failing_sweep
    done = [p for p, m in zip(first.points, first.manifest["points"], strict=True)
            if m["state"] == "done"]  # fmt: skip
    stamps = {p.run_dir: (p.run_dir / "history.parquet").stat().st_mtime_ns for p in done}
    again = run_sweep(spec, out, progress=False)
    assert again.path == first.path
    assert [p["state"] for p in again.manifest["points"]] == ["done", "done", "failed", "failed"]
    assert again.manifest["points"][0]["seconds"] == first.manifest["points"][0]["seconds"]
    for run_dir, stamp in stamps.items():
        assert (run_dir / "history.parquet").stat().st_mtime_ns == stamp


def test_open_sweep_tables_carry_grid_keys_and_seed(failing_sweep):
    _, _, result = failing_sweep
    sweep = open_sweep(result.path)
    assert sweep.grid_keys == ["lr"]
    assert sweep.points["state"].tolist() == ["done", "done", "failed", "failed"]
    history = sweep.history
    assert list(history.columns[:2]) == ["lr", "seed"]
    assert set(history["seed"]) == {0, 1} and set(history["lr"]) == {0.001}
    assert set(sweep.metrics["metric"]) >= {"normalized_effective_rank", "agreement"}


def test_mean_std_over_seeds_matches_numpy(failing_sweep):
    sweep = open_sweep(failing_sweep[2].path)
    table = sweep.mean_std("history")
    history = sweep.history
    row = table[(table["step"] == 10) & (table["split"] == "val")].iloc[0]
    values = history[(history["step"] == 10) & (history["split"] == "val")]["loss"].to_numpy()
    assert row["seeds"] == 2
    np.testing.assert_allclose(row["loss_mean"], np.mean(values))
    np.testing.assert_allclose(row["loss_std"], np.std(values, ddof=1))
    metrics = sweep.mean_std("metrics")
    assert {"lr", "step", "matrix", "metric", "value_mean", "value_std"} <= set(metrics.columns)
    assert len(metrics) == len(sweep.metrics) // 2
    one_seed = sweep.mean_std(history[history["seed"] == 0])
    assert (one_seed["loss_std"] == 0).all() and (one_seed["seeds"] == 1).all()
    assert isinstance(one_seed, pd.DataFrame)


def test_plot_sweep_draws_the_figures_that_fit_its_grid(failing_sweep, tmp_path, capsys):
    _, _, result = failing_sweep
    assert main(["plot", str(result.path), "--out", str(tmp_path)]) == 0
    written = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[-1] for p in written] == ["figure-2.png", "figure-14.png"]
    for path in written:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
