"""Resident memory of a command over its life: peak and ten evenly spaced samples.

    python benchmarks/resident_memory.py specdyn run mlp-cifar10 --set steps=3000

Starts the command, samples its resident set size (children included) every 0.5 s with
psutil, and prints one JSON line: exit status, wall seconds, peak MiB and (seconds, MiB) at
0%, 10%, ..., 100% of the run. A flat series after start-up means no growth with steps.

For a `specdyn run` (whose first line of output is the run folder), each sample also
counts the folder's spectra files, which tells training from the finish step: the last
recorded step's spectra are written by the finish. ``training_mib`` and
``training_spread_pct`` cover the samples from the tenth of the records on to the last
one before the finish (start-up and finish left out): (max - min) / min in percent, and
``training_growth_pct``, the change from the median of their first tenth to the median of
their last tenth, which docs/reliability.md asks to stay within 2 over a 10,000-step run:

    python benchmarks/resident_memory.py specdyn run mlp-cifar10 --preset tiny \\
        --no-progress --set steps=10000
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil


def rss_mib(process: psutil.Process) -> float:
    family = [process, *process.children(recursive=True)]
    return sum(p.memory_info().rss for p in family) / 2**20


def main(cmd: list[str]) -> dict:
    start = time.monotonic()
    process = psutil.Popen(cmd, stdout=subprocess.PIPE, text=True)
    folder: list[Path] = []
    threading.Thread(target=_echo, args=(process, folder), daemon=True).start()
    samples: list[tuple[float, float, int]] = []  # (seconds, MiB, spectra files)
    while process.poll() is None:
        try:
            samples.append((time.monotonic() - start, rss_mib(process), _records(folder)))
        except psutil.Error:
            break
        time.sleep(0.5)
    n = len(samples)
    series = [samples[min(n - 1, n * f // 10)] for f in range(11)] if n else []
    training = _training([(m, c) for _, m, c in samples], _records(folder))
    return {
        "cmd": " ".join(cmd),
        "rc": process.wait(),
        "wall_s": round(time.monotonic() - start),
        "peak_mib": round(max((m for _, m, _ in samples), default=0)),
        "series": [(round(t), round(m)) for t, m, _ in series],
        "records": _records(folder),
        "training_mib": [round(min(training)), round(max(training))] if training else None,
        "training_spread_pct": round(100 * (max(training) - min(training)) / min(training), 2)
        if training
        else None,
        "training_growth_pct": _growth(training),
    }


def _growth(training: list[float]) -> float | None:
    """Growth in percent from the first tenth of the training samples to the last tenth
    (medians: a sample taken inside an evaluation is no trend)."""
    tenth = len(training) // 10
    if tenth < 1:
        return None
    first, last = statistics.median(training[:tenth]), statistics.median(training[-tenth:])
    return round(100 * (last - first) / first, 2)


def _echo(process: psutil.Popen, folder: list[Path]) -> None:
    """Pass the command's output on to stderr; its first line names the run folder (made
    right after it is printed)."""
    for line in process.stdout:
        if not folder and line.strip() and " " not in line.strip():
            folder.append(Path(line.strip()))
        sys.stderr.write(line)


def _records(folder: list[Path]) -> int:
    return len(list((folder[0] / "spectra").glob("step_*.safetensors"))) if folder else 0


def _training(samples: list[tuple[float, int]], records: int) -> list[float]:
    """MiB of the samples taken while training ran: a tenth of the records written, the
    finish (which writes the last one) not begun; every sample when no folder is known."""
    if not records:
        return [m for m, _ in samples]
    return [m for m, count in samples if records / 10 <= count < records]


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
