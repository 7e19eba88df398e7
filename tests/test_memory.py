"""A long run's resident memory stays flat: no growth with the number of steps.

A real CLI process trains the ``mlp-cifar10`` ``tiny`` preset for 600 steps, evaluated
every 4 (the pattern that fragmented glibc's heap, see specdyn.train.memory), while this
test samples its resident memory every 10 ms (a fast machine trains the second half in
about two seconds). Before the fix it grew ~0.17 MiB per step, ~50 MiB over
the last 300 steps; now it stays within a few MiB. The bound leaves wide slack.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from specdyn.train.memory import release_free_memory

STEPS = 600


@pytest.mark.skipif(not release_free_memory(), reason="glibc's malloc only (Linux)")
def test_resident_memory_does_not_grow_with_steps(tmp_path):
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    sets = [f"steps={STEPS}", f"every={STEPS // 3}", "state_every=0"]
    cmd = [sys.executable, "-m", "specdyn.cli.main", "run", "mlp-cifar10", "--preset", "tiny"]
    cmd += [a for s in sets for a in ("--set", s)] + ["--no-progress", "--out", str(tmp_path)]
    child = psutil.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples: list[float] = []  # RSS in MiB, from the first evaluation on
    while child.poll() is None:
        try:
            rss = child.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            break
        if list(tmp_path.glob("*/history.parquet")):
            samples.append(rss)
        time.sleep(0.01)
    _, stderr = child.communicate()
    assert child.returncode == 0, stderr.decode()
    n = len(samples)
    assert n >= 20, "too few samples to judge"
    middle, end = samples[n // 2], max(samples[n // 2 :])
    assert end - middle < 30, f"resident memory grew {end - middle:.0f} MiB in the second half"
