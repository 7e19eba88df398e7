"""Metrics users define: registered or named by module:function, recorded by the Recorder,
``specdyn run`` / ``specdyn analyze`` and the callbacks, shown by show, plot and the report;
a failing one warns once per matrix and the run goes on."""

from __future__ import annotations

import math
from importlib import metadata

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import specdyn
from specdyn.cli.main import main
from specdyn.errors import ConfigError
from specdyn.record import custom
from specdyn.spectral import registry as registry_module
from specdyn.store import layout


def top1_share(sp):  # defined only here: the CLI imports it as module:function
    return float(sp.s[0] / sp.s.sum())


def head_values(sp):  # a per-index vector
    return sp.s[:2]


def breaks_on_wide(sp):
    if sp.shape[0] < sp.shape[1]:
        raise RuntimeError("wide")
    return math.nan if sp.name == "never" else 1.0


SPEC = f"{__name__}:top1_share"


@pytest.fixture
def registry(monkeypatch):
    """An empty registry, restored after the test."""
    monkeypatch.setattr(registry_module, "REGISTRY", {})
    return registry_module.REGISTRY


def test_registered_metric_is_recorded_by_a_plain_recorder(tmp_path, registry):
    @specdyn.metric("top1")
    def top1(sp):
        assert sp.U is not None and sp.name in ("0", "2") and len(sp.shape) == 2
        return float(sp.s[0] / sp.s.sum())

    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    rec = specdyn.Recorder(tmp_path / "run", schedule=1, top_k=3)
    rec.step(0, model)
    rec.finish()
    run = specdyn.open_run(tmp_path / "run")
    s = torch.linalg.svdvals(model[0].weight.detach().double())
    assert run.metric_values("top1")["0"] == pytest.approx(float(s[0] / s.sum()), rel=1e-6)
    assert run.config["recorder"]["metrics"] == [f"{__name__}:{top1.__qualname__}"]


def test_vector_metrics_and_specs(tmp_path, registry):
    rec = specdyn.Recorder(tmp_path / "run", 1, top_k=2, metrics=[head_values, SPEC])
    rec.step(0, nn.Sequential(nn.Linear(4, 3)))
    rec.finish()
    values = specdyn.open_run(tmp_path / "run").metric_values
    assert set(values("head_values[0]")) == {"0"} and set(values("head_values[1]")) == {"0"}
    assert values("head_values[0]")["0"] >= values("head_values[1]")["0"] > 0
    assert 0 < values("top1_share")["0"] <= 1
    assert layout.user_metrics(["alpha", "x[0]", "x[5]", "top1_share"]) == ["x[0]", "top1_share"]


def test_a_failing_metric_warns_once_naming_it_and_the_matrix(tmp_path, registry):
    model = nn.Sequential(nn.Linear(6, 3), nn.Linear(3, 5))  # "0" is wide (3x6)
    rec = specdyn.Recorder(tmp_path / "run", 1, top_k=2, metrics=[breaks_on_wide])
    with pytest.warns(specdyn.UserMetricWarning, match=r"'breaks_on_wide' raised.*'0' \(3x6\)"):
        rec.step(0, model)
    rec.step(1, model)  # no second warning: pytest turns warnings into errors
    rec.finish()
    values = specdyn.open_run(tmp_path / "run").metric_values("breaks_on_wide")
    assert math.isnan(values["0"]) and values["1"] == 1.0


def test_unknown_specs_are_config_errors(registry):
    with pytest.raises(ConfigError, match="no metric named 'nope'"):
        custom.resolve("nope")
    with pytest.raises(ConfigError, match="cannot load metric 'no_such_module:f'"):
        custom.resolve("no_such_module:f")
    with pytest.raises(ConfigError, match="two metrics are named 'top1_share'"):
        custom.resolve_all([SPEC, top1_share])


def test_cli_run_records_shows_plots_and_reports_a_user_metric(tmp_path, capsys):
    out = tmp_path / "runs"
    argv = ["run", "grokking", "--preset", "tiny", "--set", "steps=10", "--metric", SPEC]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    run_dir = out / capsys.readouterr().out.strip().splitlines()[0].split("/")[-1]
    run = specdyn.open_run(run_dir)
    assert run.config["record"]["metrics"] == [SPEC]
    assert set(run.metric_values("top1_share")) == set(run.matrices)
    assert main(["show", str(run_dir), "--baselines"]) == 0
    shown = capsys.readouterr().out
    assert "user-defined metrics:" in shown and "top1_share" in shown
    assert main(["plot", str(run_dir)]) == 0
    assert (run_dir / layout.FIGURES / "metric-top1_share.png").is_file()
    page = tmp_path / "report.html"
    assert main(["report", str(run_dir), "--out", str(page)]) == 0
    from specdyn.report.collect import run_data

    data = run_data(run)
    assert "top1_share" in data["diagnostics"]
    value, mean, std = data["baselines"]["top1_share"]["mlp.fc_in"]  # against random data
    assert 0 < mean < 1 and std > 0 and "Against random" in page.read_text()
    assert "top1_share~rand" in shown


def test_cli_analyze_records_a_user_metric(tmp_path, capsys):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    for step in (1, 2):
        torch.manual_seed(step)
        save_file({"fc.weight": torch.randn(5, 4)}, folder / f"step_{step}.safetensors")
    out = tmp_path / "run"
    assert main(["analyze", str(folder), "--out", str(out), "--metric", SPEC]) == 0
    assert "top1_share" in capsys.readouterr().out
    assert set(specdyn.open_run(out).metric_values("top1_share")) == {"fc"}


def test_an_installed_package_offers_metrics_by_entry_point(tmp_path, registry, monkeypatch):
    entry = metadata.EntryPoint("share", SPEC, custom.ENTRY_POINTS)
    found = {custom.ENTRY_POINTS: [entry]}
    monkeypatch.setattr(registry_module.metadata, "entry_points", lambda group: found[group])
    rec = specdyn.Recorder(tmp_path / "run", 1, top_k=2, metrics=["share"])
    rec.step(0, nn.Sequential(nn.Linear(4, 3)))
    rec.finish()
    run = specdyn.open_run(tmp_path / "run")
    assert 0 < run.metric_values("share")["0"] <= 1
    assert run.config["recorder"]["metrics"] == [SPEC]


def test_the_callbacks_record_user_metrics(tmp_path, registry):
    """Both framework callbacks record through LiveRecorder, with ``user_metrics``."""
    from specdyn.integrations.live import LiveRecorder, RecordingOptions
    from specdyn.record.schedule import Schedule

    options = RecordingOptions(tmp_path / "run", every=1, user_metrics=[SPEC]).options
    live = LiveRecorder(tmp_path / "run", Schedule(every=1), **options)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    live.record(0, model)
    live.finish()
    values = specdyn.open_run(tmp_path / "run").metric_values("top1_share")
    assert set(values) == {"0", "2"}
