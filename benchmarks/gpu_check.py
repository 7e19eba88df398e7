"""Every ``paper`` preset at its full size on a CUDA device: step time, recorder overhead,
peak GPU memory. For whoever has a GPU; it has not been run by its author (no GPU here).

    python benchmarks/gpu_check.py                     # every paper preset of every task, 20 steps
    python benchmarks/gpu_check.py --tasks vgg16-cifar10 --steps 50
    python benchmarks/gpu_check.py --device cpu --steps 1 --tasks mlp-cifar10   # a smoke test

Data are the tasks' synthetic source (``data.source=synthetic``: random inputs of the real
shapes, no download). For each preset: ``--steps`` optimizer steps bare, then the same from
the same seed with the recorder on at every step (every matrix's decomposition, metrics and
alignments; stored to a temporary run), after one warm-up step each. Printed: ms per bare
step, ms per recorded step, their ratio, and ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from specdyn.config.overrides import apply_overrides
from specdyn.record import Recorder, Schedule
from specdyn.store.writer import RunWriter
from specdyn.tasks import get_preset, get_task
from specdyn.tasks.registry import TASKS
from specdyn.train.optim import build_optimizer


def steps_timed(cfg, device: torch.device, steps: int, record: Path | None) -> float:
    """Seconds per optimizer step (after one warm-up step), recording every step if
    ``record`` is a folder."""
    torch.manual_seed(cfg.seed)
    exp = get_task(cfg.task).build(cfg, device)
    optimizer = build_optimizer(exp.model, cfg.optim)
    recorder = None
    if record is not None:
        recorder = Recorder(
            RunWriter(record), Schedule(every=1), exp.pairs, cfg.record.top_k, heads=exp.heads
        )
    start = 0.0
    for step in range(steps + 1):
        if step == 1:  # the first step pays for allocations and kernel choice
            _sync(device)
            start = time.perf_counter()
        loss = exp.loss(exp.model, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if recorder is not None:
            recorder.step(step, exp.model)
    if recorder is not None:
        recorder.flush()
    _sync(device)
    return (time.perf_counter() - start) / max(1, steps)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", nargs="*", help="default: every task with a paper preset")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: pass --device cpu for a smoke test")
    names = args.tasks or list(TASKS)
    print(f"torch {torch.__version__}; {device}; {args.steps} steps per measurement", flush=True)
    for task in names:
        for preset in [p for p in get_task(task).presets if p.startswith("paper")]:
            cfg = apply_overrides(get_preset(task, preset), ["data.source=synthetic"])
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            bare = steps_timed(cfg, device, args.steps, None)
            with tempfile.TemporaryDirectory() as tmp:
                recorded = steps_timed(cfg, device, args.steps, Path(tmp) / "run")
            peak = "-"
            if device.type == "cuda":
                peak = f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB"
            print(
                f"{task} {preset}: {1000 * bare:.1f} ms/step bare, {1000 * recorded:.1f} ms/step "
                f"recorded every step ({recorded / bare:.2f}x); peak GPU memory {peak}",
                flush=True,
            )


if __name__ == "__main__":
    main()
