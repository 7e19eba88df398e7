"""Sweep overhead and --workers scaling, measured side by side.

1. by hand: the points one after another, one `specdyn run` each;
2. `specdyn sweep` of the same points with --workers 1;
3. the same sweep with --workers 2.
Each into a fresh folder. Prints wall and CPU seconds (children, waited for) as JSON.

    python benchmarks/sweep_overhead.py OUT_DIR [--steps 200] [--threads 1]

--threads gives every point (by hand: OMP_NUM_THREADS) the same torch thread count, so
that the comparison measures the sweep's own cost.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import time
from pathlib import Path

VALUES = ("0", "0.1", "1", "10")


def fixed(steps: int) -> list[str]:
    sets = (f"steps={steps}", "every=20", "eval_every=20", "state_every=100")
    return [a for s in sets for a in ("--set", s)]


def timed(commands: list[list[str]], env: dict[str, str] | None = None) -> dict[str, float]:
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    for command in commands:
        subprocess.run(command, check=True, capture_output=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": time.perf_counter() - start, "cpu_s": cpu, "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=0, help="0: each command's default")
    args = parser.parse_args()
    env = os.environ | ({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {})
    threads = ["--threads", str(args.threads)] if args.threads else []
    base = ["specdyn"]
    task = ["grokking", "--preset", "tiny", *fixed(args.steps), "--no-progress"]
    by_hand = [
        [*base, "run", *task, "--set", f"weight_decay={v}", "--out", str(args.out / "hand")]
        for v in VALUES
    ]
    grid = ["--grid", "weight_decay=" + ",".join(VALUES)]
    results = {"by_hand": timed(by_hand, env)}
    for workers in (1, 2):
        out = args.out / f"sweep-w{workers}"
        command = [*base, "sweep", *task, *grid, *threads, "--workers", str(workers)]
        command += ["--out", str(out)]
        results[f"sweep_workers_{workers}"] = timed([command])
    results["overhead"] = results["sweep_workers_1"]["wall_s"] / results["by_hand"]["wall_s"] - 1
    results["speedup_workers_2"] = (
        results["sweep_workers_1"]["wall_s"] / results["sweep_workers_2"]["wall_s"]
    )
    results["cores"] = os.cpu_count()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
