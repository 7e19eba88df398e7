"""The recipes of docs/extending.md, followed with toy examples defined here, each run through
the command line: a metric (one function), a task (a model, its data and its presets), an
experiment on a run's checkpoints (its module and its command) and a figure reproduced from
a sweep (its drawing, its claim and its target); and a task an installed package offers
by entry point. The toy task is in tests/toy_task.py, where worker processes import it."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from toy_task import TOY

from specdyn import open_run
from specdyn.cli import main as cli_main
from specdyn.cli.main import main
from specdyn.figures import sweeps as sweep_figures
from specdyn.reproduce import figure_targets
from specdyn.reproduce.claims import Claim
from specdyn.reproduce.targets import Target, no_grid
from specdyn.spectral.matrices import canonical_name, is_weight, matrix_view
from specdyn.store.reader import Run
from specdyn.store.writer import RunWriter
from specdyn.sweep.results import Sweep
from specdyn.tasks import registry
from specdyn.tasks.registry import TASKS


def test_a_task_of_three_definitions_and_one_registry_line_runs_from_the_cli(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(TASKS, TOY.name, TOY)  # the recipe's one line in tasks/registry.py
    out = tmp_path / "runs"
    argv = ["run", "toy", "--out", str(out), "--no-progress", "--threads", "1"]
    assert main(argv + ["--set", "width=12"]) == 0
    run_dir = next(out.iterdir())
    run = open_run(run_dir)
    assert run.steps.tolist() == [0, 5, 10, 15, 20] and run.matrices == ["0", "2"]
    assert run.pairs == ["0->2"] and run.config["model"]["width"] == 12
    assert main(["show", str(run_dir)]) == 0
    assert "random (toy)" in capsys.readouterr().out
    assert main(["plot", str(run_dir)]) == 0
    assert any((run_dir / "figures").glob("*.png"))


def test_a_metric_of_one_function_is_recorded_from_the_cli(tmp_path, monkeypatch):
    (tmp_path / "toymetrics.py").write_text(
        textwrap.dedent(
            """
            def top1_share(sp):
                return float(sp.s[0] / sp.s.sum())
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(TASKS, TOY.name, TOY)
    out = tmp_path / "runs"
    argv = ["run", "toy", "--out", str(out), "--no-progress", "--threads", "1"]
    assert main(argv + ["--metric", "toymetrics:top1_share"]) == 0
    run = open_run(next(out.iterdir()))
    shares = run.metrics.query("metric == 'top1_share'")
    assert len(shares) == 5 * 2 and shares["value"].between(0, 1).all()
    sys.modules.pop("toymetrics", None)


# An experiment on a run's checkpoints: the Frobenius norm of every weight matrix at every
# checkpoint, written as the run's "norms" analysis (the recipe's specdyn/analyses/norms.py).
NORMS = ("step", "matrix", "frobenius")


def norms(run: Run) -> pd.DataFrame:
    table = RunWriter(run.path).analysis_table("norms", "norms", NORMS, ("step", "matrix"))
    for step in run.checkpoint_steps:
        state = run.checkpoint(step)
        rows = [
            {
                "step": step,
                "matrix": canonical_name(name),
                "frobenius": float(matrix_view(w).norm()),
            }
            for name, w in state.items()
            if is_weight(w)
        ]
        table.add(rows)
        table.flush()
    table.compact()
    return table.frame


# ... and its command (the recipe's specdyn/cli/norms_cmd.py, listed in COMMANDS)
def _add_norms_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("norms", help="the Frobenius norm of a run's matrices at each checkpoint")
    p.add_argument("run_dir", type=Path, metavar="RUN", help="a run that kept checkpoints")
    p.set_defaults(handler=lambda args: print(norms(open_run(args.run_dir)).to_string()) or 0)


NORMS_CMD = types.SimpleNamespace(add_parser=_add_norms_parser)


def test_an_experiment_on_checkpoints_is_a_module_and_a_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(TASKS, TOY.name, TOY)
    monkeypatch.setattr(cli_main, "COMMANDS", (*cli_main.COMMANDS, NORMS_CMD))
    out = tmp_path / "runs"
    argv = ["run", "toy", "--out", str(out), "--no-progress", "--threads", "1"]
    assert main(argv + ["--set", "checkpoint_every=10"]) == 0
    run_dir = next(out.iterdir())
    assert main(["norms", str(run_dir)]) == 0
    assert "frobenius" in capsys.readouterr().out
    run = open_run(run_dir)
    table = run.analysis("norms")  # read back from the run store
    assert sorted(set(table["step"])) == run.checkpoint_steps == [0, 10, 20]
    for row in table.itertuples():  # against numpy, in float64
        weight = run.checkpoint(row.step)[f"{row.matrix}.weight"].double().numpy()
        assert np.isclose(row.frobenius, np.linalg.norm(weight), rtol=1e-6, atol=0)
    assert main(["norms", str(tmp_path / "nothing")]) == 2  # a bad input: one line, exit 2


# A figure reproduced from a sweep: one panel (the top singular value of a run's last matrix
# over training, one line per seed), its claim, and its target. It is drawn for the
# grokking task: the sweep's points train in worker processes, which know the tasks of
# specdyn/tasks/ but not one registered inside a test.
def top_value_panel(sweep: Sweep, key: str | None) -> Figure:
    fig = Figure(figsize=(4, 3), layout="constrained")
    ax = fig.subplots()
    for _, seed, run in sweep.runs():
        steps, values = run.singular_values(run.matrices[-1])
        ax.plot(steps, values[:, 0], label=f"seed {seed}")
    ax.set(xlabel="step", ylabel="top singular value, last matrix")
    ax.legend()
    return fig


def top_value_moves(sweep: Sweep) -> Claim:
    ends = [run.singular_values(run.matrices[-1])[1][[0, -1], 0] for _, _, run in sweep.runs()]
    measured = ", ".join(f"{first:.3f} -> {last:.3f}" for first, last in ends)
    return Claim("training moves the top singular value", measured, all(a != b for a, b in ends))


def test_a_figure_is_a_drawing_a_claim_and_a_target(tmp_path, monkeypatch):
    figure = sweep_figures.SweepFigure(top_value_panel, ("",))
    monkeypatch.setitem(sweep_figures.FIGURES, "toy", figure)  # figures/sweeps.py's entry
    target = Target("toy", no_grid, (top_value_moves,))  # reproduce/targets.py's entry
    monkeypatch.setitem(figure_targets.TARGETS, "toy", target)
    out = tmp_path / "out"
    argv = ["reproduce", "toy", "--task", "grokking", "--scale", "tiny", "--seeds", "0,1"]
    code = main(argv + ["--out", str(out), "--no-progress", "--threads", "1"])
    report = json.loads((out / "figure-toy" / "grokking-claims.json").read_text())
    assert code == 0 and report["passed"]
    (claim,) = report["claims"]
    assert claim["statement"] == "training moves the top singular value"
    assert claim["measured"].count(" -> ") == 2  # one per seed
    assert (out / "figure-toy" / "grokking.png").stat().st_size > 0
    (sweep,) = (out / "sweeps").iterdir()
    points = json.loads((sweep / "sweep.json").read_text())["points"]
    assert [p["state"] for p in points] == ["done", "done"]


def test_an_installed_package_offers_a_task_by_entry_point(tmp_path, monkeypatch, capsys):
    """The ``specdyn.tasks`` entry-point group, read from a real dist-info folder on the
    path: the task is listed, runs, and trains in a sweep's worker processes, which find it
    the same way; a broken entry is one line, exit 2."""
    dist = tmp_path / "specdyn_toy-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: specdyn-toy\nVersion: 0.1\n")
    entries = "[specdyn.tasks]\ntoy = toy_task:TOY\nbroken = toy_task:ToyModel\n"
    (dist / "entry_points.txt").write_text(entries)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "TASKS", dict(registry.TASKS))  # forget what loads here
    assert main(["tasks"]) == 0
    listed = capsys.readouterr()
    assert "toy: a two-layer MLP on random data" in listed.out
    assert "grokking:" in listed.out and listed.err.count("specdyn: warning:") == 1
    out = tmp_path / "sweeps"
    argv = ["sweep", "toy", "--preset", "tiny", "--seeds", "0,1", "--out", str(out)]
    assert main(argv + ["--no-progress"]) == 0
    (sweep,) = out.iterdir()
    points = json.loads((sweep / "sweep.json").read_text())["points"]
    assert [p["state"] for p in points] == ["done", "done"]
    assert main(["run", "broken", "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "names a type, not a specdyn Task" in err
