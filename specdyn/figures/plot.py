"""Figures of Figure 2's kind, drawn from run stores only, written atomically as PNGs."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from specdyn.errors import RunStoreError
from specdyn.figures import panels, reference
from specdyn.store import layout
from specdyn.store.atomic import write_all_or_none, write_atomic
from specdyn.store.reader import Run

Panel = Callable[[Axes, Run], None]
PANELS: dict[str, Panel] = {
    "error": panels.error_panel,  # (a)
    "singular_values": panels.singular_values_panel,  # (b)
    "effective_rank": panels.effective_rank_panel,  # (c)
    "alignment": panels.alignment_panel,  # (d)
}
EXTRA: dict[str, Panel] = {
    "alignment_score": panels.alignment_score_panel,
    "loss": panels.loss_panel,
}
# measured values against random data of the same dimensions (specdyn.figures.reference)
BASELINES = ("normalized_effective_rank", "stable_rank", "alignment", "agreement")


def save(fig: Figure, path: Path) -> Path:
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return path


def save_all(figures: dict[Path, Figure]) -> list[Path]:
    """Every figure as a PNG, or none: all are rendered in memory, then written together
    (see ``write_all_or_none``), so a full disk leaves the old figures as they were."""
    files = {}
    for path, fig in figures.items():
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        files[path] = buffer.getvalue()
    write_all_or_none(files)
    return list(files)


def plot_run(run: Run, out_dir: Path | None = None) -> list[Path]:
    """One PNG per panel plus the four panels side by side (``figure.png``).

    Every figure is drawn before the first is written, so a run the panels cannot read
    leaves no figure behind.
    """
    out_dir = out_dir or run.path / layout.FIGURES
    check_drawable(run)
    extra = EXTRA | ({"samples": panels.samples_panel} if "samples" in run.artifacts() else {})
    extra |= user_metric_panels(run) | baseline_panels(run)
    figures = {}
    for name, panel in (PANELS | extra).items():
        fig = Figure(figsize=(6, 4.2), layout="constrained")
        panel(fig.add_subplot(), run)
        figures[out_dir / f"{name}.png"] = fig
    figures[out_dir / "figure.png"] = draw_rows([run])
    return save_all(figures)


def user_metric_panels(run: Run) -> dict[str, Panel]:
    """One heatmap per user-defined metric (the first entries of a vector one), named
    ``metric-<name>``."""
    names = layout.user_metrics(list(dict.fromkeys(run.metrics["metric"])))
    return {
        "metric-" + _file_name(name): functools.partial(panels.metric_panel, metric=name)
        for name in names
    }


def baseline_panels(run: Run) -> dict[str, Panel]:
    """``baseline-<metric>``: the recorded ones of BASELINES and every user-defined one."""
    recorded = list(dict.fromkeys(run.metrics["metric"]))
    names = [m for m in BASELINES if m in recorded] + layout.user_metrics(recorded)
    return {
        "baseline-" + _file_name(m): functools.partial(reference.baseline_panel, metric=m)
        for m in names
    }


def _file_name(metric: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", metric)


def compare_runs(runs: Sequence[Run], out_path: Path, labels: Sequence[str] = ()) -> Path:
    """Figure 2 itself: one row per run, columns (a) error, (b) SVs, (c) rank, (d) alignment."""
    for run in runs:
        check_drawable(run)
    return save(draw_rows(runs, labels), out_path)


def draw_rows(runs: Sequence[Run], labels: Sequence[str] = ()) -> Figure:
    """The figure of :func:`compare_runs`, not yet written."""
    labels = list(labels) or [_label(run) for run in runs]
    fig = Figure(figsize=(22, 4.2 * len(runs)), layout="constrained")
    grid = fig.subplots(len(runs), len(PANELS), squeeze=False)
    for row, (run, label) in enumerate(zip(runs, labels, strict=True)):
        for col, panel in enumerate(PANELS.values()):
            panel(grid[row, col], run)
        grid[row, 0].set_ylabel(f"{label}\nerror")
    return fig


def check_drawable(run: Run) -> None:
    """RunStoreError, before anything is drawn, if the run is inconsistent or empty."""
    run.check()
    if not len(run.steps):
        raise RunStoreError(f"run '{run.path}' has recorded no spectra yet; nothing to draw")


def _label(run: Run) -> str:
    cfg = run.config
    if cfg.get("task") is None:  # a checkpoint analysis: its folder names it
        return run.path.name
    return f"{cfg.get('task', '?')} {cfg.get('preset', '?')}"
