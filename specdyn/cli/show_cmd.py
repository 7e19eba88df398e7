"""``specdyn show RUN_DIR``: a summary table of one run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from specdyn.cli.common import Subparsers, open_checked_run
from specdyn.errors import RunStoreError
from specdyn.spectral.scores import SCORE_K
from specdyn.store import layout

if TYPE_CHECKING:  # imported when the command runs: `specdyn show --help` loads nothing
    import pandas as pd

    from specdyn.store.reader import Run


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("show", help="summarise a run: config, final errors, final spectra")
    p.add_argument(
        "run_dir", type=Path, metavar="RUN", help="a run folder (from run, analyze or a Recorder)"
    )
    p.add_argument(
        "--baselines",
        action="store_true",
        help="print each metric beside its random-matrix baseline (~rand): a Monte Carlo over "
        "random matrices of every shape, seconds for small models, minutes at LLM scale",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    run = open_checked_run(args.run_dir)
    for gap in run.gaps():  # show can go on: it says what is missing and summarises the rest
        print(f"specdyn: warning: {gap}", file=sys.stderr)
    print(summary(run, args.baselines))
    return 0


BASELINES_NOTE = (
    "~rand: the same metric of random data of the same dimensions (an i.i.d. Gaussian "
    "matrix of the same shape and entry scale; independent uniformly random singular "
    "vectors for alignment and agreement): see docs/metrics.md"
)


def summary(run: Run, with_baselines: bool = False) -> str:
    """The summary ``specdyn show`` prints; ``with_baselines``: ``~rand`` columns too."""
    steps = run.steps.tolist()
    shown = ", ".join(map(str, steps)) if len(steps) <= 8 else f"{steps[0]} ... {steps[-1]}"
    names = run.matrices
    listed = ", ".join(names[:4]) + (f", ... ({len(names) - 4} more)" if len(names) > 4 else "")
    lines = [
        f"run:      {run.path}",
        *_origin(run.config),
        f"steps:    {len(steps)} recorded ({shown or 'none'})",
        f"matrices: {len(names)} ({listed or 'none'})",
    ]
    if not run.history.empty:
        last = run.history[run.history["step"] == run.history["step"].max()]
        lines.append("\nfinal evaluation:\n" + last.to_string(index=False))
    table = _spectra_table(run, with_baselines)
    if not table.empty:
        lines.append(
            "\nfinal spectra:\n" + table.to_string(float_format="{:.3f}".format, na_rep="")
        )
        lines += _score_k(run)
    lines += _diagnostics(run, with_baselines)
    lines += _user_metrics(run, with_baselines)
    if any(RANDOM in line for line in lines):
        lines.append("\n" + BASELINES_NOTE)
    elif not with_baselines:
        lines.append("\n(specdyn show --baselines: each metric beside its random-matrix baseline)")
    return "\n".join(lines)


def _origin(cfg: dict) -> list[str]:
    """What made the run: a task's preset, a checkpoint series, or a Recorder in a loop."""
    if cfg.get("task"):
        return [
            f"task:     {cfg['task']}  preset: {cfg.get('preset')}  seed: {cfg.get('seed')}",
            f"data:     {cfg.get('data_source', 'not recorded')}",
        ]
    if "checkpoints" in cfg:  # `specdyn analyze`
        labels = list(cfg["checkpoints"].values())
        first = labels[0] if labels else "none"
        return [
            f"source:   checkpoint series of {len(labels)} ({first}{' ...' * (len(labels) > 1)})"
        ]
    recorder = cfg.get("recorder", {})
    return [f"source:   a Recorder in a training loop (top_k {recorder.get('top_k', '?')})"]


def _user_metrics(run: Run, with_baselines: bool) -> list[str]:
    """User-defined metrics (``--metric``) at the last step, one column each."""
    names = layout.user_metrics(list(dict.fromkeys(run.metrics["metric"])))
    if not names:
        return []
    import pandas as pd

    found = {name: run.metric_values(name) for name in names}
    values = pd.DataFrame(_beside_baselines(run, found, {n: n for n in names}, with_baselines))
    return ["\nuser-defined metrics:\n" + values.to_string(float_format="{:.3f}".format, na_rep="")]


def _beside_baselines(
    run: Run, found: dict[str, dict[str, float]], metrics: dict[str, str], with_baselines: bool
) -> dict[str, dict[str, float]]:
    """Each column of last-step values followed by its baselines (``~rand``)."""
    out = {}
    for col, values in found.items():
        out[col] = values
        if with_baselines:
            out[col + RANDOM] = baselines(run, metrics[col], list(values))
    return out


def _score_k(run: Run) -> list[str]:
    """The k of the alignment and agreement scores, when fewer than 10 vectors were kept
    (the rows' ``top_k`` column; the paper's scores average the top 10)."""
    table = run.metrics
    if "top_k" not in table.columns:
        return []
    rows = table[table["metric"].isin(("alignment", "agreement")) & table["top_k"].notna()]
    ks = sorted({int(k) for k in rows["top_k"]})
    if not ks or min(ks) >= SCORE_K:
        return []
    shown = ", ".join(map(str, ks))
    return [
        f"\nalignment and agreement are top-k scores with k = {shown}: fewer than {SCORE_K} "
        f"vectors were kept (record.top_k), so each averages all that were kept"
    ]


def _diagnostics(run: Run, with_baselines: bool) -> list[str]:
    """Single-checkpoint diagnostics (``analyze --metrics all``) and their per-model means."""
    import numpy as np
    import pandas as pd

    from specdyn.record.diagnostics import model_summary, whole_matrices

    columns = {
        "alpha": "alpha",
        "alpha_w": "alpha_weighted",
        "log_spec_norm": "log_spectral_norm",
        "mp_outliers": "mp_outliers",
        "num_spikes": "num_spikes",
        "rand_dist": "rand_distance",
    }
    found = {col: run.metric_values(m) for col, m in columns.items()}
    if not any(found.values()):
        return []
    values = pd.DataFrame(_beside_baselines(run, found, columns, with_baselines))
    summary = model_summary(run.metrics, run.matrices)
    if len(summary) > 12:  # a long series: a dozen evenly spaced steps
        summary = summary.iloc[np.linspace(0, len(summary) - 1, 12).round().astype(int)]
    fmt = "{:.3f}".format
    return [
        "\nfinal diagnostics:\n" + values.to_string(float_format=fmt, na_rep=""),
        f"\nper-model summary (mean over {len(whole_matrices(run.matrices))} matrices):\n"
        + summary.to_string(float_format=fmt),
    ]


def _spectra_table(run: Run, with_baselines: bool) -> pd.DataFrame:
    """One row per matrix or pair; columns at the last step unless marked @start."""
    import pandas as pd

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
    values = {}
    for col, (metric, at) in columns.items():
        values[col] = run.metric_values(metric, at)
        if with_baselines and (at == "last" or metric == "agreement"):  # @start: vs the last
            values[col + RANDOM] = baselines(run, metric, list(values[col]), at)
    return pd.DataFrame(values).dropna(axis=1, how="all")


RANDOM = "~rand"  # a column of baselines: the metric of random data of the same dimensions


def baselines(run: Run, metric: str, names: list[str], at: str = "last") -> dict[str, float]:
    """name -> mean of ``Run.baseline`` at the ``first`` or ``last`` step; names without
    one (a run that kept no vectors, so no shape) are left out."""
    table = run.metrics[run.metrics["metric"] == metric]
    if table.empty:
        return {}
    step = int(table["step"].max() if at == "last" else table["step"].min())
    out = {}
    for name in names:
        try:
            out[name] = run.baseline(metric, name, step).mean
        except (RunStoreError, ValueError):  # no shape kept, or NaN on every random draw
            continue
    return out
