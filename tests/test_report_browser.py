"""The report in a real browser: Debian's headless Chromium, driven by Playwright.

Skipped only when no Chromium binary is installed (``apt-get install -y chromium``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from playwright.sync_api import Browser, Page, sync_playwright

from specdyn.report import open_runs, write_report
from specdyn.store.reader import open_run
from specdyn.tasks import get_preset
from specdyn.train import train

CHROMIUM = os.environ.get("SPECDYN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason=f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set SPECDYN_CHROMIUM)",
)
# One run's plots: loss, error, singular values, effective rank, alignment diagonal and
# score line, alignment scores, agreement diagonal and score line, agreement scores; then
# the single-checkpoint diagnostics when the run has any.
PANELS = 10


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


def _open(browser: Browser, html: Path) -> tuple[Page, list[str]]:
    """The report opened from disk, fully drawn; the console errors it logged."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(html.as_uri())
    page.wait_for_function("window.specdynReady === true", timeout=60_000)
    return page, errors


@pytest.fixture(scope="module")
def one_run(browser, tiny_run, tmp_path_factory) -> Iterator[tuple[Page, list[str]]]:
    """The tiny run, with two single-checkpoint diagnostics added as an analysis would:
    ``alpha`` at the last step, ``outliers`` at every recorded step."""
    run_dir = shutil.copytree(tiny_run, tmp_path_factory.mktemp("report") / "run")
    table = pd.read_parquet(run_dir / "metrics.parquet")
    matrices, steps = open_run(tiny_run).matrices, open_run(tiny_run).steps
    extra = [(20, m, "alpha", 2.0 + i / 4) for i, m in enumerate(matrices)]
    extra += [(int(s), m, "outliers", float(i % 3)) for i, m in enumerate(matrices) for s in steps]
    extra_table = pd.DataFrame(extra, columns=["step", "matrix", "metric", "value"])
    pd.concat([table, extra_table]).to_parquet(run_dir / "metrics.parquet", index=False)
    page, errors = _open(browser, write_report(open_runs([run_dir]), run_dir.parent / "r.html"))
    yield page, errors
    page.close()


@pytest.fixture(scope="module")
def two_seeds(browser, tiny_run, tmp_path_factory) -> Iterator[tuple[Page, list[Path]]]:
    seed1 = tmp_path_factory.mktemp("runs") / "seed1"
    cfg = get_preset("grokking", "tiny")
    train(dataclasses.replace(cfg, seed=1), seed1, torch.device("cpu"), progress=False)
    html = write_report(open_runs([tiny_run, seed1]), seed1.parent / "r.html")
    page, errors = _open(browser, html)
    assert errors == []
    yield page, [tiny_run, seed1]
    page.close()


def _plots(page: Page, box: str = "") -> list[dict]:
    """Per plot: its traces' kinds, trace elements drawn, and the SVG's size."""
    return page.evaluate(
        """box => Array.from(document.querySelectorAll(box + " .panel-plot")).map(div => {
            const svg = div.querySelector("svg.main-svg"), r = svg && svg.getBoundingClientRect();
            return {types: div.data.filter(t => t.mode !== "markers").map(t => t.type),
                    fills: div.data.filter(t => t.fill).length,
                    drawn: div.querySelectorAll("g.trace path, g.hm image, g.trace.bars").length,
                    width: r ? r.width : 0, height: r ? r.height : 0, cell: div.clientWidth};
        })""",
        box,
    )


def _close(shown, expected: np.ndarray, digits: int = 4) -> None:
    """The page shows stored values to ``digits`` significant digits of the largest."""
    atol = 0.501 * 10.0 ** (1 - digits) * np.abs(expected).max()
    np.testing.assert_allclose(np.asarray(shown, dtype=float), expected, rtol=0, atol=atol)


def _choose(page: Page, control: str, value: str) -> None:
    page.select_option(f"#select-{control}", value)
    page.wait_for_function("window.specdynReady === true")


def test_the_report_logs_no_console_errors(one_run):
    page, errors = one_run
    assert errors == []
    assert page.evaluate("document.body.dataset.ready") == "1"


def test_every_panel_is_drawn(one_run):
    page, _ = one_run
    plots = _plots(page)
    assert len(plots) == PANELS + 1 and page.locator(".panel-note").count() == 0
    for plot in plots:  # drawn, and no wider than its cell
        assert plot["drawn"] > 0 and plot["height"] > 100, plot
        assert 400 < plot["width"] <= plot["cell"] + 1, plot
    heatmaps = sum(p["types"] == ["heatmap"] for p in plots)
    assert heatmaps == 5  # effective rank, two diagonals, two score grids
    assert plots[-1]["types"] == ["bar"]  # alpha: one step, a bar per matrix
    table = page.locator("#diag-table tr").all_inner_texts()
    assert len(table) == 1 + 9 and table[1].split() == ["embed", "2", "0"]


def test_choosing_another_matrix_redraws_its_singular_values(one_run, tiny_run):
    page, errors = one_run
    run = open_run(tiny_run)
    shown = page.eval_on_selector("#select-matrix", "s => s.value")
    other = next(m for m in run.matrices if m != shown)
    lines = "document.querySelector('#sv .panel-plot').data.filter(t => t.mode == 'lines')"
    before = page.evaluate(lines + ".map(t => t.y)")
    _choose(page, "matrix", other)
    after = page.evaluate(lines + ".map(t => t.y)")
    assert after != before
    _, values = run.singular_values(other)  # traces run from the smallest value to the largest
    _close(np.array(after)[::-1].T, values)
    agreement = page.evaluate("document.querySelector('#agree-diag .panel-plot').data[0].z")
    _close(np.array(agreement).T, run.agreement(other)[1])
    assert other in page.evaluate("location.hash") and errors == []


def test_choosing_another_pair_redraws_its_alignment(one_run, tiny_run):
    page, errors = one_run
    run = open_run(tiny_run)
    _choose(page, "pair", run.pairs[-1])
    z = page.evaluate("document.querySelector('#align-diag .panel-plot').data[0].z")
    _close(np.array(z).T, run.alignment(run.pairs[-1])[1])
    assert errors == []


def test_a_diagnostic_over_steps_is_a_heatmap(one_run, tiny_run):
    page, errors = one_run
    _choose(page, "diagnostic", "outliers")
    z = page.evaluate("document.querySelector('#diag .panel-plot').data[0].z")
    matrices, steps = open_run(tiny_run).matrices, open_run(tiny_run).steps
    assert z == [[float(i % 3)] * len(steps) for i in range(len(matrices))] and errors == []


def test_seeds_are_one_panel_with_mean_and_std_bands(two_seeds):
    page, runs = two_seeds
    plots = _plots(page, "#sv")
    assert len(plots) == 1 and plots[0]["fills"] > 0
    matrix = page.eval_on_selector("#select-matrix", "s => s.value")
    values = np.stack([open_run(r).singular_values(matrix)[1] for r in runs])
    mean = page.evaluate("document.querySelector('#sv .panel-plot').data.at(-1).y")
    _close(mean, values[:, :, 0].mean(axis=0), digits=3)  # the mean of two rounded runs
    _choose(page, "view", "each")
    assert len(_plots(page, "#sv")) == 2 and _plots(page, "#sv")[0]["fills"] == 0


def test_a_run_that_has_not_recorded_yet_opens_with_notes(browser, tiny_run, tmp_path):
    started = tmp_path / "started"  # as a run folder is before its first record
    started.mkdir()
    shutil.copy(tiny_run / "config.json", started / "config.json")
    page, errors = _open(browser, write_report(open_runs([started]), tmp_path / "r.html"))
    notes = page.locator(".panel-note").all_inner_texts()
    assert errors == [] and _plots(page) == [] and len(notes) == PANELS
    assert any("nothing recorded yet" in note for note in notes)
    page.close()
