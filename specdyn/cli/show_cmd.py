"""``specdyn show RUN_DIR``: a summary table of one run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from specdyn.cli.common import Subparsers
from specdyn.record.diagnostics import model_summary, whole_matrices
from specdyn.store import layout
from specdyn.store.reader import Run, open_run


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("show", help="summarise a run: config, final errors, final spectra")
    p.add_argument("run_dir", type=Path)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    run = open_run(args.run_dir)
    for gap in run.gaps():  # show can go on: it says what is missing and summarises the rest
        print(f"specdyn: warning: {gap}", file=sys.stderr)
    print(summary(run))
    return 0


def summary(run: Run) -> str:
    cfg = run.config
    lines = [
        f"run:     {run.path}",
        f"task:    {cfg.get('task')}  preset: {cfg.get('preset')}  seed: {cfg.get('seed')}",
        f"data:    {cfg.get('data_source', '?')}",
        f"steps:   {len(run.steps)} recorded, last {run.steps[-1] if len(run.steps) else '-'}",
    ]
    if not run.history.empty:
        last = run.history[run.history["step"] == run.history["step"].max()]
        lines.append("\nfinal evaluation:\n" + last.to_string(index=False))
    table = _spectra_table(run)
    if not table.empty:
        lines.append(
            "\nfinal spectra:\n" + table.to_string(float_format="{:.3f}".format, na_rep="")
        )
    lines += _diagnostics(run)
    lines += _user_metrics(run)
    return "\n".join(lines)


def _user_metrics(run: Run) -> list[str]:
    """User-defined metrics (``--metric``) at the last step, one column each."""
    names = layout.user_metrics(list(dict.fromkeys(run.metrics["metric"])))
    if not names:
        return []
    values = pd.DataFrame({name: run.metric_values(name) for name in names})
    return ["\nuser-defined metrics:\n" + values.to_string(float_format="{:.3f}".format)]


def _diagnostics(run: Run) -> list[str]:
    """Single-checkpoint diagnostics (``analyze --metrics all``) and their per-model means."""
    columns = {
        "alpha": "alpha",
        "alpha_w": "alpha_weighted",
        "log_spec_norm": "log_spectral_norm",
        "mp_outliers": "mp_outliers",
        "rand_dist": "rand_distance",
    }
    values = pd.DataFrame({col: run.metric_values(m) for col, m in columns.items()})
    if values.empty:
        return []
    summary = model_summary(run.metrics, run.matrices)
    if len(summary) > 12:  # a long series: a dozen evenly spaced steps
        summary = summary.iloc[np.linspace(0, len(summary) - 1, 12).round().astype(int)]
    fmt = "{:.3f}".format
    return [
        "\nfinal diagnostics:\n" + values.to_string(float_format=fmt, na_rep=""),
        f"\nper-model summary (mean over {len(whole_matrices(run.matrices))} matrices):\n"
        + summary.to_string(float_format=fmt),
    ]


def _spectra_table(run: Run) -> pd.DataFrame:
    """One row per matrix or pair; columns at the last step unless marked @start."""
    columns = {
        "norm_eff_rank@start": ("normalized_effective_rank", "first"),
        "norm_eff_rank": ("normalized_effective_rank", "last"),
        "eff_rank": ("effective_rank", "last"),
        "spectral_norm": ("spectral_norm", "last"),
        "stable_rank": ("stable_rank", "last"),
        "agreement@start": ("agreement", "first"),
        "alignment@start": ("alignment", "first"),
        "alignment": ("alignment", "last"),
    }
    values = {col: run.metric_values(metric, at) for col, (metric, at) in columns.items()}
    return pd.DataFrame(values).dropna(axis=1, how="all")
