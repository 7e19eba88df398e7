"""Resident memory of a command over its life: peak and ten evenly spaced samples.

    python benchmarks/resident_memory.py specdyn run mlp-cifar10 --set steps=3000

Starts the command, samples its resident set size (children included) every 0.5 s with
psutil, and prints one JSON line: exit status, wall seconds, peak MiB and (seconds, MiB) at
0%, 10%, ..., 100% of the run. A flat series after start-up means no growth with steps.
"""

from __future__ import annotations

import json
import sys
import time

import psutil


def rss_mib(process: psutil.Process) -> float:
    family = [process, *process.children(recursive=True)]
    return sum(p.memory_info().rss for p in family) / 2**20


def main(cmd: list[str]) -> dict:
    start = time.monotonic()
    process = psutil.Popen(cmd, stdout=sys.stderr)
    samples: list[tuple[float, float]] = []
    while process.poll() is None:
        try:
            samples.append((time.monotonic() - start, rss_mib(process)))
        except psutil.Error:
            break
        time.sleep(0.5)
    n = len(samples)
    series = [samples[min(n - 1, n * f // 10)] for f in range(11)] if n else []
    return {
        "cmd": " ".join(cmd),
        "rc": process.wait(),
        "wall_s": round(time.monotonic() - start),
        "peak_mib": round(max((m for _, m in samples), default=0)),
        "series": [(round(t), round(m)) for t, m in series],
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
