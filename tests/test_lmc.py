"""Linear mode connectivity designs end to end on a tiny MLP (minibatches, so branch data
orders differ), pairs and tables checked against what they must hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from specdyn.analyses.lmc import connectivity, read_tables
from specdyn.cli.main import main
from specdyn.errors import ConfigError
from specdyn.store import layout


@pytest.fixture(scope="module")
def design(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lmc")
    argv = ["lmc", "mlp-cifar10", "--preset", "tiny", "--set", "steps=6", "--set", "eval_every=6"]
    argv += ["--trunks", "2", "--branches", "2", "--splits", "4", "--perturb", "0"]
    argv += ["--perturb-step", "4", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    return next(out.glob("lmc-mlp-cifar10-tiny-*"))


def test_design_pairs_and_tables(design):
    tables = read_tables(design)
    barrier = tables["barrier"]
    counts = barrier[(barrier["split"] == "train") & (barrier["metric"] == "loss")]
    counts = counts.groupby(["kind", "step", "eta"]).size().to_dict()
    # same: 2 trunks x 1 pair; cross: 2 branch seeds x 1 pair; perturb: 2 trunks x 1 pair.
    assert counts == {("cross", 4, 0.0): 2, ("same", 4, 0.0): 2, ("perturb", 4, 0.0): 2}
    curve = tables["curve"]
    assert sorted(set(curve["alpha"].round(6))) == [round(i / 10, 6) for i in range(11)]
    assert (curve.groupby(["pair", "step", "kind", "eta", "split"]).size() == 11).all()
    agreement = tables["agreement"]
    assert agreement["value"].between(0, 1 + 1e-5).all()
    assert {"layers.0", "layers.3"} <= set(agreement["matrix"])
    # eta = 0 branches start from the unperturbed state: they are the lmc branches at step 4
    # (up to the float64 round trip of the perturbation).
    same4 = barrier[barrier["kind"] == "same"].sort_values(["pair", "split", "metric"])
    eta0 = barrier[barrier["kind"] == "perturb"].sort_values(["pair", "split", "metric"])
    assert same4["value"].to_numpy() == pytest.approx(eta0["value"].to_numpy(), abs=1e-5)
    for name in ("lmc-same-trunk.png", "lmc-cross-trunk.png", "lmc-perturb.png"):
        assert (design / layout.FIGURES / name).read_bytes()[:4] == b"\x89PNG"


def test_rerun_resumes_without_training(design, capsys):
    before = {p: p.stat().st_mtime_ns for p in design.rglob("state.pt")}
    argv = ["lmc", "mlp-cifar10", "--preset", "tiny", "--set", "steps=6", "--set", "eval_every=6"]
    argv += ["--trunks", "2", "--branches", "2", "--splits", "4", "--perturb", "0"]
    argv += ["--perturb-step", "4", "--out", str(design.parent), "--no-progress"]
    assert main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in design.rglob("state.pt")} == before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--perturb", "-0.1"], "eta must be >= 0"),
        (["--splits", "0,50"], "split steps [50] are not in [0, 6)"),
        (["--splits", "a,b"], "--splits expects comma-separated numbers"),
        (["--trunks", "1", "--branches", "1", "--splits", "0"], "needs two branches or two"),
        (["--splits", "0", "--backend", "nosuch"], "unknown backend 'nosuch'"),
        (["--splits", "0", "--workers", "0"], "--workers must be at least 1"),
        (["--splits", "0", "--norm-batches", "0"], "--norm-batches must be at least 1"),
    ],
)
def test_bad_designs_write_nothing(tmp_path, capsys, extra, message):
    argv = ["lmc", "mlp-cifar10", "--preset", "tiny", "--set", "steps=6", "--out", str(tmp_path)]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_connectivity_of_runs_of_different_tasks_is_refused(tiny_run, design):
    mlp_trunk = design / "trunk-0"
    with pytest.raises(ConfigError, match="different tasks or models"):
        connectivity(tiny_run, mlp_trunk)
    result = connectivity(mlp_trunk, mlp_trunk)  # a run against itself: no barrier at all
    assert (result["barrier"]["value"] == 0).all()
    assert result["agreement"]["value"].to_numpy() == pytest.approx(1.0, abs=1e-5)
