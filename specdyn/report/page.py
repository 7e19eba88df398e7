"""The report as one self-contained HTML file: data once as JSON, Plotly inlined once.

Both are gzipped and base64-encoded in the page (a third of their size); the page unpacks
them with the browser's own DecompressionStream, so it works opened from disk, offline.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import json
import os
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from specdyn.errors import ConfigError
from specdyn.report.collect import run_data
from specdyn.report.groups import group_labels, group_runs
from specdyn.store.atomic import write_atomic
from specdyn.store.reader import Run

SCRIPTS = ("data.js", "panels.js", "tables.js", "app.js", "load.js")  # in load order


def report_data(runs: list[Run]) -> dict:
    """Every run's data, and the groups of runs that differ only by seed."""
    configs = [run.config for run in runs]
    groups = group_runs(configs)
    labels = group_labels(configs, groups)
    return {
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "runs": [run_data(run) for run in runs],
        "groups": [{"label": label, "runs": g} for label, g in zip(labels, groups, strict=True)],
    }


def render(data: dict, title: str, refresh: int | None = None) -> str:
    """The HTML page; ``refresh``: seconds after which an open page reloads itself."""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False)
    meta = ""
    if refresh:  # reload() keeps the address, so the selections (#matrix=...) survive it
        meta = (
            f"<script>setTimeout(function () {{ location.reload(); }}, {refresh * 1000});</script>"
        )
    app = "\n".join(_static(name) for name in SCRIPTS)
    page = _static("template.html").replace("@@REFRESH@@", meta)
    page = page.replace("@@TITLE@@", html.escape(title))
    head, rest = page.split("@@DATA@@")
    middle, rest = rest.split("@@PLOTLY@@")
    middle_app, tail = rest.split("@@APP@@")
    return "".join((head, packed(payload), middle, _packed_plotly(), middle_app, app, tail))


def packed(text: str) -> str:
    """``text`` gzipped and base64-encoded (safe inside any HTML element)."""
    return base64.b64encode(gzip.compress(text.encode("utf-8"), 9, mtime=0)).decode("ascii")


def unpacked(text: str) -> str:
    """The inverse of :func:`packed`."""
    return gzip.decompress(base64.b64decode(text)).decode("utf-8")


def write_report(
    runs: list[Run], out: Path, refresh: int | None = None, names: list[str] | None = None
) -> Path:
    """Write the report of ``runs`` to ``out`` atomically; returns ``out``. ``names``: what
    the title calls them (default: the run folders' names)."""
    names = names or [run.path.name for run in runs]
    title = "specdyn report: " + ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
    text = render(report_data(runs), title, refresh)
    write_atomic(out, lambda p: p.write_text(text, encoding="utf-8"))
    return out


def check_out(out: Path) -> None:
    """ConfigError unless ``out`` can be written as a file (nothing is created here)."""
    if out.is_dir():
        raise ConfigError(f"--out '{out}' is a folder; give a file such as '{out}/report.html'")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"cannot write --out '{out}': '{parent}' is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write --out '{out}': '{parent}' is not writable")


@functools.cache
def _packed_plotly() -> str:
    return packed(plotly_js())


def plotly_js() -> str:
    """Plotly's JavaScript bundle, from the installed ``plotly`` package (the report extra)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise ConfigError(
            "the report needs plotly: pip install 'specdyn[report]' (or pip install plotly)"
        ) from None
    return get_plotlyjs()


def _static(name: str) -> str:
    return (
        resources.files("specdyn.report")
        .joinpath("static")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )
