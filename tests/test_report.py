"""The report's data, grouping, sources and bad input (the page itself: test_report_browser)."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil

import numpy as np
import pandas as pd

from specdyn.cli import report_cmd
from specdyn.cli.main import main
from specdyn.report import open_runs, render, report_data, run_folders
from specdyn.report.collect import fixed, rounded
from specdyn.report.groups import group_labels, group_runs
from specdyn.report.page import unpacked
from specdyn.store.reader import open_run


def _floats(fx: dict) -> np.ndarray:
    """A fixed-point array {e, q} as floats (NaN where null)."""
    q = np.array(fx["q"], dtype=object)
    return np.where(q == None, np.nan, q).astype(float) * 10.0 ** fx["e"]  # noqa: E711


def _close(fx: dict, expected: np.ndarray) -> None:
    """Fixed point keeps 4 significant digits of the largest magnitude."""
    expected = np.asarray(expected, dtype=float)
    atol = 5.01e-4 * np.nanmax(np.abs(expected))
    np.testing.assert_allclose(_floats(fx), expected, rtol=0, atol=atol)


def test_fixed_point_keeps_four_digits_of_the_largest_value():
    rng = np.random.default_rng(0)
    for scale in 10.0 ** np.arange(-9, 9):
        values = rng.standard_normal((6, 5)) * scale
        fx = fixed(values)
        _close(fx, values)
        assert 1000 <= np.abs(np.array(fx["q"])).max() <= 9999
        assert max(len(json.dumps(v)) for row in fx["q"] for v in row) <= 5  # -9999
    assert fixed(np.array([np.nan, np.inf, 0.25, 0.0])) == {"e": -4, "q": [None, None, 2500, 0]}
    assert fixed(np.zeros((2, 0))) == {"e": 0, "q": [[], []]}


def test_history_keeps_four_digits_of_every_value():
    values = np.array([12.5, 3.14159e-6, 2.0e-9, np.nan])
    assert rounded(values) == [12.5, 3.142e-6, 2e-9, None]


def test_report_data_holds_the_run_store(tiny_run):
    run = open_run(tiny_run)
    data = report_data([run])["runs"][0]
    assert data["matrices"] == run.matrices and data["pairs"] == run.pairs
    for matrix in run.matrices:
        steps, values = run.singular_values(matrix)
        assert data["sv"][matrix]["t"] == steps.tolist()
        _close(data["sv"][matrix]["v"], values)
        _close(data["agree"][matrix]["v"], run.agreement(matrix)[1])
    for pair in run.pairs:
        _close(data["align"][pair]["v"], run.alignment(pair)[1])
    grid = data["metrics"]["normalized_effective_rank"]
    last = run.metric_values("normalized_effective_rank")
    for row, matrix in enumerate(grid["matrices"]):
        assert math.isclose(_floats(grid["values"][row])[-1], last[matrix], rel_tol=5e-4)
    assert set(data["scores"]) == {"alignment", "agreement"} and data["diagnostics"] == {}
    history = run.history[run.history["split"] == "val"]
    np.testing.assert_allclose(data["history"]["val"]["loss"], history["loss"], rtol=5e-4)


def test_extra_metric_rows_are_diagnostics(tiny_run, tmp_path):
    run_dir = shutil.copytree(tiny_run, tmp_path / "run")
    table = pd.read_parquet(run_dir / "metrics.parquet")
    extra = pd.DataFrame(
        {"step": 20, "matrix": ["embed", "unembed"], "metric": "alpha", "value": [2.5, 4.0]}
    )
    pd.concat([table, extra]).to_parquet(run_dir / "metrics.parquet", index=False)
    grid = report_data([open_run(run_dir)])["runs"][0]["diagnostics"]["alpha"]
    assert grid["steps"] == [20] and grid["matrices"] == ["embed", "unembed"]
    assert [_floats(row).tolist() for row in grid["values"]] == [[2.5], [4.0]]


def _config(seed: int, wd: float, task: str = "grokking") -> dict:
    return {"task": task, "preset": "cpu", "optim": {"weight_decay": wd}, "seed": seed,
            "hash": f"h{seed}{wd}", "environment": {"written": str(seed)}}  # fmt: skip


def test_runs_that_differ_only_by_seed_form_one_group():
    configs = [_config(0, 1.0), _config(0, 0.1), _config(1, 1.0), _config(2, 1.0)]
    groups = group_runs(configs)
    assert groups == [[0, 2, 3], [1]]
    labels = group_labels(configs, groups)
    assert labels == ["weight_decay=1.0 (seeds 0, 1, 2)", "weight_decay=0.1 (seed 0)"]
    assert group_labels(configs[:1], [[0]]) == ["grokking cpu (seed 0)"]
    mixed = [_config(0, 1.0), _config(0, 1.0, "mlp-cifar10")]
    expected = ["grokking cpu (seed 0)", "mlp-cifar10 cpu (seed 0)"]
    assert group_labels(mixed, group_runs(mixed)) == expected


def test_a_sweep_folder_lists_its_runs_once_in_order(tiny_run, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(tiny_run, sweep / "b")
    shutil.copytree(tiny_run, sweep / "a")
    (sweep / "notes").mkdir()
    assert run_folders(sweep) == [sweep / "a", sweep / "b"]  # no sweep.json: run subfolders
    listing = {"task": "grokking", "points": [{"run": "b"}, {"run": str(sweep / "a")}]}
    (sweep / "sweep.json").write_text(json.dumps(listing))
    assert run_folders(sweep) == [sweep / "b", sweep / "a"]
    runs = open_runs([sweep, sweep / "a"])
    assert [r.path.name for r in runs] == ["b", "a"]


def test_the_page_is_self_contained_with_plotly_once(tiny_run):
    data = report_data([open_run(tiny_run)])
    text = render(data, "t")
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)
    packed = dict(
        re.findall(r'<script id="([\w-]+)" type="application/gzip\+base64">([^<]*)<', text)
    )
    assert set(packed) == {"specdyn-data", "plotly-js"}
    assert json.loads(unpacked(packed["specdyn-data"])) == json.loads(json.dumps(data))
    assert re.match(r"/\*\*?\s*\*? ?plotly\.js v\d", unpacked(packed["plotly-js"]))
    assert "plotly.js v" not in text  # inlined once: only in the packed bundle


def _fail(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("specdyn: error: "), err
    return err


def test_a_folder_that_is_not_a_run_or_sweep_is_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.txt").write_text("not a run")
    out = tmp_path / "r.html"
    assert "not a run or sweep" in _fail(["report", str(empty), "--out", str(out)], capsys)
    assert "no such folder" in _fail(["report", str(tmp_path / "nope"), "--out", str(out)], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_runs_of_different_tasks_need_allow_mixed(tiny_run, tmp_path, capsys):
    other = shutil.copytree(tiny_run, tmp_path / "other")
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps(config | {"task": "mlp-cifar10"}))
    out = tmp_path / "r.html"
    err = _fail(["report", str(tiny_run), str(other), "--out", str(out)], capsys)
    assert "different tasks" in err and "--allow-mixed" in err and not out.exists()
    assert main(["report", str(tiny_run), str(other), "--out", str(out), "--allow-mixed"]) == 0
    assert out.stat().st_size > 0


def test_an_unwritable_out_is_one_line_and_writes_nothing(tiny_run, tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    _fail(["report", str(tiny_run), "--out", str(a_file / "r.html")], capsys)
    _fail(["report", str(tiny_run), "--out", str(a_file / "deeper" / "r.html")], capsys)
    assert "is a folder" in _fail(["report", str(tiny_run), "--out", str(tmp_path)], capsys)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        _fail(["report", str(tiny_run), "--out", str(locked / "r.html")], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"] + (
        [] if os.geteuid() == 0 else ["locked"]
    )
    assert a_file.read_text() == "x"


def test_watch_rewrites_the_report_atomically(tiny_run, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(tiny_run), "--out", str(out)]) == 0
    assert "location.reload()" not in out.read_text()
    args = argparse.Namespace(paths=[tiny_run], out=out, allow_mixed=False, every=0.01)
    before = out.stat().st_mtime_ns
    report_cmd.watch(args, refresh=7, rounds=2)
    assert out.stat().st_mtime_ns > before
    assert "setTimeout(function () { location.reload(); }, 7000);" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]  # no temporary left


def test_watch_reports_a_failed_refresh_and_goes_on(tiny_run, tmp_path, capsys):
    run_dir = shutil.copytree(tiny_run, tmp_path / "run")
    out = tmp_path / "r.html"
    args = argparse.Namespace(paths=[run_dir], out=out, allow_mixed=False, every=0.01)
    (run_dir / "config.json").write_text("{broken")
    report_cmd.watch(args, refresh=None, rounds=1)
    assert "report not refreshed" in capsys.readouterr().err and not out.exists()


def test_every_must_be_positive_and_needs_watch(tiny_run, tmp_path, capsys):
    out = str(tmp_path / "r.html")
    assert "positive" in _fail(
        ["report", str(tiny_run), "--out", out, "--watch", "--every", "0"], capsys
    )
    assert "--watch" in _fail(["report", str(tiny_run), "--out", out, "--every", "5"], capsys)
    assert "positive" in _fail(
        ["report", str(tiny_run), "--out", out, "--watch", "--every", "nan"], capsys
    )
    assert list(tmp_path.iterdir()) == []
