"""Size and open time of ``specdyn report`` for the largest cpu run's shape (LSTM).

    python benchmarks/report_size.py [--out DIR] [--records 100] [--opens 3]
                                     [--screenshot PNG] [RUN ...]

Without RUN, makes a synthetic run store of the lstm-librispeech ``cpu`` preset's shape:
its model (3 bidirectional layers of 64 units: 61 matrices, up to 64 singular values
each) built without its data, ``--records`` recorded steps of perturbed weights written by
the real Recorder, a history per split and the agreement. Then writes the report, and opens
it ``--opens`` times from disk in headless Chromium (``/usr/bin/chromium``), timing each
open from navigation to every panel drawn (wall time, and the CPU time of the browser's
processes meanwhile), and the same for a page holding nothing but Plotly. Prints a
Markdown table row and the page's own milestones.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import psutil
import torch

from specdyn.models.lstm import SpeechLSTM, alignment_pairs
from specdyn.record import Recorder, Schedule
from specdyn.report import open_runs, plotly_js, write_report
from specdyn.store.writer import RunWriter
from specdyn.tasks import get_preset
from specdyn.tasks.base import Experiment
from specdyn.train.run_info import describe


def synthetic_lstm_run(path: Path, records: int) -> Path:
    """A run store of the LSTM cpu preset's shape: real recorder, perturbed weights."""
    cfg = get_preset("lstm-librispeech", "cpu")
    torch.manual_seed(0)
    model = SpeechLSTM(cfg.model)
    exp = Experiment(model, lambda m, s: torch.zeros(()), lambda m: {}, alignment_pairs(cfg.model),
                     "synthetic: perturbed weights, no data")  # fmt: skip
    writer = RunWriter(path)
    writer.write_config(describe(cfg, exp, torch.device("cpu")))
    every = 10
    recorder = Recorder(writer, Schedule(every=every, last=records * every), exp.pairs)
    drift = {n: torch.randn_like(p) for n, p in model.named_parameters() if p.ndim >= 2}
    for i in range(records + 1):
        step = i * every
        recorder.step(step, model)
        writer.history.add([_history_row(step, split, 0.97**i * f) for split, f in SPLITS])
        writer.history.flush()
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name in drift:
                    p.mul_(0.995).add_(0.002 * drift[name] + 0.004 * torch.randn_like(p))
    recorder.finish()
    return path


SPLITS = (("train", 1.0), ("val", 1.1))


def _history_row(step: int, split: str, level: float) -> dict:
    return {"step": step, "split": split, "loss": 3.0 * level, "error": min(1.0, level),
            "wer": min(1.0, 1.5 * level)}  # fmt: skip


def open_times(html: Path, opens: int) -> list[tuple[float, float, dict]]:
    """Per fresh page: seconds from navigation to every panel drawn, CPU seconds the
    browser's processes spent meanwhile (less sensitive to a shared machine), and the
    page's own milestones (ms since navigation)."""
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        for _ in range(opens):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            cpu, start = _browser_cpu(), time.perf_counter()
            page.goto(html.as_uri())
            page.wait_for_function("window.specdynReady === true", timeout=120_000)
            wall, cpu = time.perf_counter() - start, _browser_cpu() - cpu
            results.append((wall, cpu, page.evaluate("window.specdynTimes || null")))
            page.close()
        browser.close()
    return results


def plotly_only_page(path: Path) -> Path:
    """A page holding nothing but Plotly (inlined) and one small plot: the floor."""
    script = "Plotly.newPlot('p', [{y: [1, 3, 2]}]).then(() => { window.specdynReady = true; });"
    body = f"<div id='p'></div><script>{plotly_js()}</script><script>{script}</script>"
    path.write_text(f"<!DOCTYPE html><html><body>{body}</body></html>", encoding="utf-8")
    return path


def screenshot(html: Path, png: Path, width: int = 1400) -> None:
    """The whole report as headless Chromium draws it, ``width`` pixels wide."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(html.as_uri())
        page.wait_for_function("window.specdynReady === true", timeout=120_000)
        page.screenshot(path=png, full_page=True)
        browser.close()


def _browser_cpu() -> float:
    """User + system CPU seconds of every process this one started (the browser's)."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="report-")))
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--opens", type=int, default=3)
    parser.add_argument("--screenshot", type=Path, help="also save a full-page PNG here")
    args = parser.parse_args()
    runs = args.runs or [synthetic_lstm_run(args.out / "lstm-synthetic", args.records)]
    start = time.perf_counter()
    html = write_report(open_runs(runs), args.out / "report.html")
    write_s = time.perf_counter() - start
    results = open_times(html, args.opens)
    wall = statistics.median(r[0] for r in results)
    cpu = statistics.median(r[1] for r in results)
    size = html.stat().st_size / 1e6
    names = ", ".join(r.name for r in runs)
    print(f"| runs | file size | write | open: wall (CPU), median of {args.opens} |")
    print("|---|---|---|---|")
    print(f"| {names} | {size:.2f} MB | {write_s:.1f} s | {wall:.2f} s ({cpu:.2f} s CPU) |")
    for wall, cpu, milestones in results:
        steps = ", ".join(f"{k} {v:.0f}" for k, v in (milestones or {}).items())
        print(f"open {wall:.2f} s, browser CPU {cpu:.2f} s; ms: {steps}")
    floor = open_times(plotly_only_page(args.out / "plotly-only.html"), args.opens)
    wall = statistics.median(r[0] for r in floor)
    cpu = statistics.median(r[1] for r in floor)
    print(f"Plotly alone: open {wall:.2f} s ({cpu:.2f} s browser CPU), median of {args.opens}")
    print(html)
    if args.screenshot:
        screenshot(html, args.screenshot)


if __name__ == "__main__":
    main()
