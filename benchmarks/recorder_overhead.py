"""Recorder overhead: the same training steps with and without recording.

    python benchmarks/recorder_overhead.py [--task grokking] [--preset cpu] [--steps 1000]

Trains ``--steps`` optimizer steps of the preset twice from the same seed, once bare and
once with the recorder on the preset's schedule (every SVD, metric, alignment and file
write included), and prints both wall times and their ratio. Then times one record()
call and its SVD alone. Run it on a quiet machine: it measures wall time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from specdyn.record import Recorder, Schedule
from specdyn.spectral import decompose, weight_matrices
from specdyn.tasks import get_preset, get_task
from specdyn.train.optim import build_optimizer


def timed_training(cfg, steps: int, recorder: Recorder | None) -> float:
    exp = get_task(cfg.task).build(cfg, torch.device("cpu"))
    optimizer = build_optimizer(exp.model, cfg.optim)
    start = time.perf_counter()
    for step in range(steps + 1):
        if recorder is not None:
            recorder.step(step, exp.model)
        if step == steps:
            break
        loss = exp.loss(exp.model, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def timed_record(cfg, folder: Path, repeats: int = 5) -> tuple[float, float]:
    exp = get_task(cfg.task).build(cfg, torch.device("cpu"))
    recorder = Recorder(folder, Schedule(every=1), exp.pairs, cfg.record.top_k)
    svd = full = float("inf")
    for i in range(repeats):
        t = time.perf_counter()
        decompose(weight_matrices(exp.model), k=cfg.record.top_k)
        svd = min(svd, time.perf_counter() - t)
        t = time.perf_counter()
        recorder.record(i, exp.model)
        full = min(full, time.perf_counter() - t)
    return svd, full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="grokking")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    cfg = get_preset(args.task, args.preset)
    schedule = Schedule(every=cfg.record.every, at=cfg.record.at, last=args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        bare = timed_training(cfg, args.steps, None)
        recorder = Recorder(
            Path(tmp) / "run",
            schedule,
            get_task(cfg.task).build(cfg, torch.device("cpu")).pairs,
            cfg.record.top_k,
        )
        recorded = timed_training(cfg, args.steps, recorder)
        n_records = len(schedule.steps(args.steps))
        svd, full = timed_record(cfg, Path(tmp) / "single")
    print(
        f"{args.task}/{args.preset}: {args.steps} steps, {n_records} records, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"  without recording: {bare:8.2f} s  ({args.steps / bare:.1f} steps/s)")
    print(f"  with recording:    {recorded:8.2f} s  ({args.steps / recorded:.1f} steps/s)")
    print(f"  overhead ratio:    {recorded / bare:8.3f}")
    print(f"  one record(): {1000 * full:.1f} ms, of which the SVDs: {1000 * svd:.1f} ms")


if __name__ == "__main__":
    main()
