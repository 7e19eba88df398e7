"""Record time at the 10th vs the 1,000th record: the store's cost per record is constant.

    python benchmarks/record_cost.py [--records 1000] [--width 16]

Records a small MLP ``--records`` times in a row (one record per step) and prints the
median time of records 5-15 and of the last ten, and their ratio, in wall time and in
CPU time of this process. The model is small so that the store's writes, not the SVDs,
dominate a record: a table rewritten whole at every flush makes the ratio grow with the
number of records; one part file per flush keeps it near 1. Wall time includes the
fsync of every file, which on a busy machine varies with other processes' I/O: read the
CPU ratio there.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from specdyn import Recorder, Schedule


def record_times(records: int, width: int, folder: Path) -> tuple[list[float], list[float]]:
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(width, width) for _ in range(4)])
    recorder = Recorder(folder, Schedule(every=1), top_k=width)
    wall, cpu = [], []
    for step in range(records):
        start, start_cpu = time.perf_counter(), time.process_time()
        recorder.record(step, model)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01 * torch.randn_like(p))
    recorder.finish()
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--width", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        times = record_times(args.records, args.width, Path(folder))
    print(f"{args.records} records of 4 {args.width}x{args.width} matrices, 20 metric rows each")
    print("        records 5-15 (median)  last 10 records (median)  ratio")
    for name, values in zip(("wall", "cpu"), times, strict=True):
        early, late = statistics.median(values[4:15]), statistics.median(values[-10:])
        print(f"  {name:4s}  {early * 1e3:9.2f} ms  {late * 1e3:9.2f} ms  {late / early:6.2f}")


if __name__ == "__main__":
    main()
