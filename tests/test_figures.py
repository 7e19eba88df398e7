"""Figures: every panel writes a non-empty PNG from a tiny run; the table of figure choices."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from specdyn import Run, open_run
from specdyn.figures import compare_runs, error_label, figure_choices, plot_run
from specdyn.figures.panels import figure_matrix, figure_pair, heatmap_rows
from specdyn.figures.plot import BASELINES, EXTRA, PANELS, save
from specdyn.tasks import TASKS

PNG = b"\x89PNG\r\n\x1a\n"


def _is_a_drawn_png(path) -> bool:
    """A PNG file whose pixels are not all one colour."""
    if path.read_bytes()[:8] != PNG:
        return False
    pixels = imread(path)
    return pixels.ndim == 3 and float(pixels[..., :3].std()) > 0


def _draws(run: Run, names: list[str], folder: Path) -> bool:
    """Every named panel of ``run`` draws a PNG that is not blank."""
    for name in names:
        fig = Figure(figsize=(4, 3))
        (PANELS | EXTRA)[name](fig.add_subplot(), run)
        if not _is_a_drawn_png(save(fig, folder / f"{name}.png")):
            return False
    return True


@pytest.mark.parametrize("name", [*PANELS, *EXTRA])
def test_every_panel_writes_a_drawn_png(name, tiny_run, tmp_path):
    fig = Figure(figsize=(4, 3))
    (PANELS | EXTRA)[name](fig.add_subplot(), open_run(tiny_run))
    assert _is_a_drawn_png(save(fig, tmp_path / f"{name}.png"))


def test_plot_run_writes_every_panel_and_the_row(tiny_task_run, tmp_path):
    run = open_run(tiny_task_run("unet-mnist"))  # the one task that keeps samples
    written = plot_run(run, tmp_path)
    names = {p.name for p in written}
    against_random = [f"baseline-{m}" for m in BASELINES]  # specdyn.figures.reference
    assert names == {f"{n}.png" for n in [*PANELS, *EXTRA, *against_random, "samples", "figure"]}
    assert all(_is_a_drawn_png(p) for p in written)
    assert _is_a_drawn_png(compare_runs([run, run], tmp_path / "compare.png", ["a", "b"]))


def test_every_task_has_choices_that_name_what_its_tiny_run_recorded(tiny_task_run):
    for task in TASKS:
        assert TASKS[task].figures.matrix and TASKS[task].figures.pair, task
        run = open_run(tiny_task_run(task))
        choices = figure_choices(run.config)
        assert choices["matrix"] in run.matrices, task
        assert choices["pair"] in run.pairs, task
        assert figure_matrix(run) == choices["matrix"] and figure_pair(run) == choices["pair"]
        rows = heatmap_rows(run)
        assert rows and set(rows) <= set(run.matrices), task


def test_error_labels():
    labels = {task: error_label({"task": task}) for task in TASKS}
    assert labels["lstm-librispeech"] == "CER" and labels["unet-mnist"] == "diffusion MSE"
    assert labels["grokking"] == "error"
    assert error_label({"task": "my-own-loop"}) == "error"


def test_a_run_that_stored_its_figure_choices_keeps_them(tiny_run, tmp_path):
    """Runs written before the table held ``figures`` in config.json: those still rule."""
    old = tmp_path / "old"
    shutil.copytree(tiny_run, old)
    config = json.loads((old / "config.json").read_text())
    config["figures"] = {"matrix": "mlp.fc_in", "pair": "mlp.fc_in->mlp.fc_out", "rows": "^mlp"}
    config["figures"]["error_label"] = "old error"
    (old / "config.json").write_text(json.dumps(config))
    run = open_run(old)
    assert (figure_matrix(run), figure_pair(run)) == ("mlp.fc_in", "mlp.fc_in->mlp.fc_out")
    assert heatmap_rows(run) == ["mlp.fc_in", "mlp.fc_out"]
    assert error_label(run.config) == "old error"
    assert _draws(run, ["singular_values", "effective_rank", "error"], tmp_path)


def test_a_run_of_an_unknown_task_falls_back_to_what_it_recorded(tiny_run, tmp_path):
    own = tmp_path / "own"
    shutil.copytree(tiny_run, own)
    config = json.loads((own / "config.json").read_text())
    (own / "config.json").write_text(json.dumps(config | {"task": "my-own-loop"}))
    run = open_run(own)
    assert figure_matrix(run) == run.matrices[0] and figure_pair(run) == run.pairs[0]
    assert not any(r.endswith((".h0", ".h1")) for r in heatmap_rows(run))
    assert _draws(run, ["singular_values", "alignment", "error"], tmp_path)


@pytest.mark.parametrize(
    ("keys", "figures"),
    [
        ((), ["3", "5", "9"]),
        (("weight_decay",), ["6", "7", "14"]),
        (("optim.weight_decay", "lr"), ["6", "7", "14"]),
        (("labels",), ["8"]),
        (("lr",), ["2", "14"]),
    ],
)
def test_sweep_figures_chosen_by_the_first_grid_key(keys, figures):
    from types import SimpleNamespace

    from specdyn.figures.sweeps import FIGURES, figures_for

    assert figures_for(SimpleNamespace(grid_keys=list(keys))) == figures
    assert set(figures) <= set(FIGURES)
