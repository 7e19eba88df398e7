"""Kill -9 soak: SIGKILL a run at random moments, resume it each time, compare with an
uninterrupted run of the same command.

    python scripts/kill_soak.py [--task grokking] [--preset cpu] [--kills 10]
                                [--set steps=600 ...] [--seed 0] [--out /tmp/kill-soak]

1. Runs the command once uninterrupted (the reference): its recorded steps and its mean
   wall time between two records, D.
2. Draws ``--kills`` moments, each a recorded step (distinct, step 0 aside) and a delay
   drawn uniformly in [0, D), sorted by step; record more often than the state is saved
   (``--set every=10 --set state_every=20``) so that there are steps enough. For each,
   starts the same command on a second folder, waits until this process has written the
   spectra of that step (or a later one), waits the delay, and SIGKILLs it: the kills
   land anywhere in training, recording, saving and the finish step, and each resume
   makes progress whatever the machine's load.
3. Runs the command to the end and compares: the same metric and history rows, no
   duplicates, every spectrum, agreement and final checkpoint; bit-identical or the largest
   difference. Prints a table of the kills and the verdict; exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from specdyn import open_run
from specdyn.store import layout
from specdyn.store.reader import read_state


def command(args, out: Path) -> list[str]:
    sets = [f"--set={s}" for s in args.set]
    base = [sys.executable, "-m", "specdyn.cli.main", "run", args.task, "--preset", args.preset]
    return base + ["--seed", str(args.seed), "--out", str(out), "--no-progress", *sets]


def timed_run(cmd: list[str]) -> tuple[float, Path]:
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, Path(result.stdout.splitlines()[0])


def kill_after(cmd: list[str], spectra: Path, step: int, delay: float) -> str:
    """Start ``cmd``; once it has written the spectra of ``step`` or a later one, wait
    ``delay`` seconds and SIGKILL it. What happened."""
    start = time.time()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        while proc.poll() is None and not _written_since(spectra, step, start):
            time.sleep(0.02)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return "killed"
        return f"ended first (rc {proc.returncode})"


def _written_since(folder: Path, step: int, start: float) -> bool:
    try:
        files = layout.step_files(folder)
        return any(layout.step_of(p) >= step and p.stat().st_mtime >= start for p in files)
    except FileNotFoundError:  # a file removed by the resume while we looked
        return False


def snapshot(run_dir: Path) -> str:
    """The folder as the kill left it: saved step, spectra files, agreement, temporaries."""
    if not run_dir.exists():
        return "no folder yet"
    state = read_state(run_dir)
    saved = "-" if state is None else state["step"]
    spectra = len(layout.step_files(run_dir / layout.SPECTRA))
    tmps = len([p for p in run_dir.rglob(f"{layout.TMP_PREFIX}*")])
    agreement = "yes" if (run_dir / layout.AGREEMENT).exists() else "no"
    return f"state step {saved}, {spectra} spectra files, agreement {agreement}, {tmps} .tmp"


def compare(run_dir: Path, ref_dir: Path) -> list[str]:
    """Differences between the resumed run and the reference; [] when bit-identical."""
    run, ref = open_run(run_dir), open_run(ref_dir)
    found = run.gaps()
    key = ["step", "matrix", "metric"]
    if run.metrics.duplicated(key).any() or run.history.duplicated(["step", "split"]).any():
        found.append("duplicate rows")
    for name, a, b in (
        ("metrics", run.metrics, ref.metrics),
        ("history", run.history, ref.history),
    ):
        if len(a) != len(b):
            found.append(f"{name}: {len(a)} rows, reference {len(b)}")
        elif not a.equals(b):
            diff = np.abs(
                a.select_dtypes("number").to_numpy() - b.select_dtypes("number").to_numpy()
            )
            found.append(f"{name}: same rows, values differ by up to {np.nanmax(diff):.3g}")
    if run.steps.tolist() != ref.steps.tolist():
        found.append(f"recorded steps differ: {len(run.steps)} vs {len(ref.steps)}")
        return found
    for matrix in ref.matrices:
        a, b = run.singular_values(matrix)[1], ref.singular_values(matrix)[1]
        if not np.array_equal(a, b):
            rel = np.max(np.abs(a - b) / np.abs(b).clip(1e-30))
            found.append(f"singular values of {matrix}: max rel diff {rel:.3g}")
        if not np.array_equal(run.agreement(matrix)[1], ref.agreement(matrix)[1]):
            found.append(f"agreement of {matrix} differs")
    last = ref.checkpoint_steps[-1]
    for name, value in ref.checkpoint(last).items():
        if not torch.equal(run.checkpoint(last)[name], value):
            found.append(f"final checkpoint {name} differs")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="grokking")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--random-seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--out", type=Path, default=Path("/tmp/kill-soak"))
    args = parser.parse_args()

    ref_time, ref_dir = timed_run(command(args, args.out / "reference"))
    steps = open_run(ref_dir).steps.tolist()
    gap = ref_time / len(steps)
    print(f"reference: {ref_time:.1f} s, {len(steps)} records, {gap:.1f} s apart", flush=True)
    draw = random.Random(args.random_seed)
    chosen = sorted(draw.sample(steps[1:], args.kills))
    moments = [(step, draw.uniform(0, gap)) for step in chosen]
    cmd = command(args, args.out / "killed")
    run_dir = args.out / "killed" / ref_dir.name
    print("kill  after the record of step  + delay (s)  outcome  folder after the kill")
    for i, (step, delay) in enumerate(moments, 1):
        outcome = kill_after(cmd, run_dir / layout.SPECTRA, step, delay)
        print(f"{i:4d}  {step:6d}  {delay:6.2f}  {outcome}  {snapshot(run_dir)}", flush=True)
    final_time, _ = timed_run(cmd)
    print(f"final resume: {final_time:.1f} s")
    found = compare(run_dir, ref_dir)
    rows = len(open_run(run_dir).metrics)
    print(
        f"metrics rows: {rows}; "
        + ("bit-identical to the reference" if not found else "; ".join(found))
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
