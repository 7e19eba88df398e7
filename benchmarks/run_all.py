"""Every recorder benchmark in one command, each a ratio measured side by side in one
process; the results replace the generated section of docs/benchmarks.md (machine, device,
date and load average included).

    python benchmarks/run_all.py [--records 4] [--repeats 3] [--only overhead stack growth bytes]

overhead: on every task's ``cpu`` preset, a window of ``--records`` x ``record.every``
    training steps (the preset's record density), bare and recorded (the preset's recorder:
    top_k, heads, pairs, vector dtype), interleaved A B A B from the same initial state;
    the overhead is the median recorded / bare wall time, and, robust to other jobs, the
    time spent inside the recorder over the rest of the recorded window.
stack: one full record (all metrics, top-100 vectors, the file written) of a 12-block d=768
    Transformer weight stack (48 matrices) vs one plain ``torch.linalg.svd`` pass over the
    same matrices; the values-only analysis (values, the five scalars, the power-law alpha)
    vs WeightWatcher ``analyze()`` (skipped when weightwatcher is not installed).
growth: record time at the 10th vs the 1,000th record of one run (record_cost.py's model).
startup: CPU time of `specdyn --help`, `tasks` and `show RUN` vs importing torch
    (cli_startup.py).
bytes: run-folder bytes per recorded step of every task's ``cpu`` preset (singular values
    and alignments at every record, vectors at ``record.vector_points`` of them) vs the
    authors' way, a full checkpoint with optimizer state per recorded step.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from cli_startup import startup_lines  # noqa: E402
from record_cost import record_times  # noqa: E402

from specdyn.record import Recorder, Schedule  # noqa: E402
from specdyn.spectral import decompose, metrics  # noqa: E402
from specdyn.spectral.powerlaw import fit_powerlaw  # noqa: E402
from specdyn.tasks import TASKS, get_preset, get_task  # noqa: E402
from specdyn.train.optim import build_optimizer  # noqa: E402

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


class Window:
    """One task's cpu preset, built once; ``run(folder)`` trains the window from the same
    initial state, recording into ``folder`` (None: bare). Returns (wall s, recorder s)."""

    def __init__(self, task: str, records: int):
        self.cfg = cfg = get_preset(task, "cpu")
        self.exp = get_task(task).build(cfg, DEVICE)
        self.initial = copy.deepcopy(self.exp.model.state_dict())
        self.steps = records * cfg.record.every  # records at 0, every, ..., (records-1) every

    def recorder(self, folder: Path) -> Recorder:
        r, exp = self.cfg.record, self.exp
        schedule = Schedule(every=r.every, at=r.at, log_points=r.log_points, last=None)
        dtype = getattr(torch, r.vector_dtype)
        return Recorder(folder, schedule, exp.pairs, r.top_k, r.heads or exp.heads, None, dtype)

    def run(self, folder: Path | None) -> tuple[float, float]:
        model = self.exp.model
        model.load_state_dict(self.initial)
        optimizer = build_optimizer(model, self.cfg.optim)
        recorder = None if folder is None else self.recorder(folder)
        inside = 0.0
        _sync()
        start = time.perf_counter()
        for step in range(self.steps):
            if recorder is not None:
                t = time.perf_counter()
                recorder.step(step, model)
                inside += time.perf_counter() - t
            model.train()
            loss = self.exp.loss(model, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if recorder is not None:
            recorder.flush()
        _sync()
        return time.perf_counter() - start, inside


def overhead(args: argparse.Namespace, tmp: Path) -> list[str]:
    lines = [
        "| task | window: steps (records, every) | bare s | recorded s | recorded / bare "
        "| recorder time / rest |",
        "|---|---|---|---|---|---|",
    ]
    for task in args.tasks:
        try:
            window = Window(task, args.records)
        except Exception as err:  # noqa: BLE001 - a data set not installed here
            lines.append(f"| `{task}` | skipped: {type(err).__name__}: {err} | | | | |")
            continue
        window.run(None)  # warm-up: first-touch allocations, lazy initialisation
        bare, recorded, fractions = [], [], []
        for i in range(args.repeats):
            bare.append(window.run(None)[0])
            wall, inside = window.run(tmp / f"{task}-{i}")
            recorded.append(wall)
            fractions.append(inside / (wall - inside))
        b, r = statistics.median(bare), statistics.median(recorded)
        every = window.cfg.record.every
        lines.append(
            f"| `{task}` | {window.steps} ({args.records}, every {every}) | {b:.2f} | {r:.2f} "
            f"| {100 * (r / b - 1):+.1f}% | {100 * statistics.median(fractions):.1f}% |"
        )
        print(lines[-1], flush=True)
    return lines


class Block(nn.Module):
    def __init__(self, d: int = 768):
        super().__init__()
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc_in, self.fc_out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)


def stack(args: argparse.Namespace, tmp: Path) -> list[str]:
    torch.manual_seed(0)
    model = nn.Sequential(*[Block() for _ in range(12)]).to(DEVICE)
    mats = {
        f"{i}": m.weight.detach() for i, m in enumerate(model.modules()) if isinstance(m, nn.Linear)
    }
    count = iter(range(10**6))

    def plain() -> float:
        _sync()
        start = time.perf_counter()
        for W in mats.values():
            torch.linalg.svd(W, full_matrices=False)
        _sync()
        return time.perf_counter() - start

    def record() -> float:
        recorder = Recorder(tmp / f"stack-{next(count)}", Schedule(every=1), top_k=100)
        _sync()
        start = time.perf_counter()
        recorder.record(0, model)
        recorder.flush()
        return time.perf_counter() - start

    def values_only() -> float:
        start = time.perf_counter()
        for sp in decompose(mats, vectors=False).values():
            s = sp.s.double().cpu()
            [float(f(s)) for f in (metrics.effective_rank, metrics.stable_rank)]
            [float(f(s)) for f in (metrics.spectral_norm, metrics.frobenius_norm)]
            fit_powerlaw(s)
        return time.perf_counter() - start

    runs: dict[str, Callable[[], float]] = {"plain": plain, "record": record}
    runs["values"] = values_only
    if _has_weightwatcher():
        runs["ww"] = lambda: _weightwatcher(model)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.stack_repeats):
        for name, run in runs.items():
            times[name].append(run())
            print(f"  {name}: {times[name][-1]:.2f} s", flush=True)
    t = {k: statistics.median(v) for k, v in times.items()}
    lines = [
        "| 48 matrices (12 blocks: 2304x768, 768x768, 3072x768, 768x3072) | seconds | ratio |",
        "|---|---|---|",
        f"| plain `torch.linalg.svd` pass (float32, reduced vectors) | {t['plain']:.2f} | 1.00 |",
        f"| one full record (all metrics, top-100 vectors, file written) | {t['record']:.2f} "
        f"| {t['record'] / t['plain']:.2f}x the plain pass |",
        f"| values-only analysis (values, 5 scalars, power-law alpha) | {t['values']:.2f} "
        f"| {t['values'] / t['plain']:.2f}x the plain pass |",
    ]
    if "ww" in t:
        lines.append(
            f"| WeightWatcher `analyze()` (defaults) | {t['ww']:.2f} "
            f"| values-only is {t['ww'] / t['values']:.1f}x faster |"
        )
    else:
        lines.append("| WeightWatcher `analyze()` | not installed: skipped | |")
    return lines


def _has_weightwatcher() -> bool:
    try:
        import weightwatcher  # noqa: F401
    except ImportError:
        return False
    return True


def _weightwatcher(model: nn.Module) -> float:
    import logging
    import warnings

    import weightwatcher as ww

    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        ww.WeightWatcher(model=model.cpu()).analyze()
        elapsed = time.perf_counter() - start
    model.to(DEVICE)
    return elapsed


def growth(args: argparse.Namespace, tmp: Path) -> list[str]:
    wall, cpu = record_times(args.growth_records, 16, tmp / "growth")
    n = args.growth_records
    lines = [
        f"{n} records in a row of 4 16x16 matrices (one per step, so that the store, not the "
        "SVDs, makes up a record); medians:",
        "",
        f"| time | record 10 (records 5-15) | record {n} (last 10) | ratio |",
        "|---|---|---|---|",
    ]
    for name, values in (("wall", wall), ("process CPU", cpu)):
        early, late = statistics.median(values[4:15]), statistics.median(values[-10:])
        lines.append(
            f"| {name} | {early * 1e3:.2f} ms | {late * 1e3:.2f} ms | {late / early:.2f} |"
        )
    return lines


def bytes_per_step(args: argparse.Namespace, tmp: Path) -> list[str]:
    lines = [
        "| task | records | vectors kept at | spectra files / recorded step | checkpoint + "
        "optimizer / step | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for task in TASKS:
        cfg = get_preset(task, "cpu")
        try:
            exp = get_task(task).build(cfg, DEVICE)
        except Exception as err:  # noqa: BLE001 - a data set not installed here
            lines.append(f"| `{task}` | skipped: {type(err).__name__} | | | | |")
            continue
        optimizer = build_optimizer(exp.model, cfg.optim)
        exp.loss(exp.model, 0).backward()
        optimizer.step()  # the optimizer state exists
        r = cfg.record
        schedule = Schedule(every=r.every, at=r.at, log_points=r.log_points, last=cfg.train.steps)
        steps = schedule.steps(cfg.train.steps)
        folder = tmp / f"bytes-{task}"
        dtype = getattr(torch, r.vector_dtype)
        recorder = Recorder(folder, schedule, exp.pairs, r.top_k, r.heads or exp.heads,
                            None, dtype, vector_points=r.vector_points)  # fmt: skip
        kept = len(recorder.kept_vector_steps(steps) or steps)
        recorder.record(0, exp.model)
        recorder.flush()
        path = next((folder / "spectra").iterdir())
        with_vectors = path.stat().st_size
        recorder.run.drop_vectors(0)
        without = path.stat().st_size
        ours = (len(steps) * without + kept * (with_vectors - without)) / len(steps)
        buffer = io.BytesIO()
        torch.save({"model": exp.model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
        theirs = len(buffer.getvalue())
        lines.append(
            f"| `{task}` | {len(steps)} | {kept} | {ours / 1e6:.3f} MB | {theirs / 1e6:.3f} MB "
            f"| {ours / theirs:.3f} |"
        )
        print(lines[-1], flush=True)
    return lines


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def machine() -> str:
    device = torch.cuda.get_device_name() if DEVICE.type == "cuda" else "CPU only (no GPU)"
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
        f"device: {device}; torch {torch.__version__}, Python {platform.python_version()}; "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"load average (1, 5, 15 min) {load()}"
    )


SECTIONS: dict[str, tuple[str, Callable[[argparse.Namespace, Path], list[str]]]] = {
    "overhead": ("Recorder overhead on every `cpu` preset", overhead),
    "stack": ("A 12-block d=768 Transformer: one record", stack),
    "growth": ("Record time at the 10th vs the 1,000th record", growth),
    "bytes": ("Run-folder bytes per recorded step", bytes_per_step),
    "startup": ("Command-line start-up", lambda args, tmp: startup_lines(7)),
}


def write_section(path: Path, key: str, text: str) -> None:
    """Replace section ``key``'s generated text in ``path`` (appended when absent), so that
    ``--only`` reruns leave the other sections as they were."""
    begin, end = f"<!-- run_all {key}: begin -->", f"<!-- run_all {key}: end -->"
    old = path.read_text() if path.exists() else ""
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + begin + "\n" + text + "\n" + end + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + begin + "\n" + text + "\n" + end + "\n"
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=4, help="records per overhead window")
    parser.add_argument("--repeats", type=int, default=3, help="bare/recorded pairs per task")
    parser.add_argument("--stack-repeats", type=int, default=1)
    parser.add_argument("--growth-records", type=int, default=1000)
    parser.add_argument("--only", nargs="*", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--tasks", nargs="*", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    command = f"python benchmarks/run_all.py {' '.join(sys.argv[1:])}".strip()
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.only:
            title, fn = SECTIONS[key]
            print(f"## {title}", flush=True)
            start = machine()
            lines = fn(args, Path(tmp))
            text = [f"#### {title}", "", f"`{command}`; at the start: {start}.", "", *lines]
            text += ["", f"Load average at the end of this section: {load()}.", ""]
            write_section(args.out, key, "\n".join(text))
            print("\n".join(text), flush=True)


if __name__ == "__main__":
    main()
