"""benchmarks/gpu_check.py, for whoever has a GPU, runs here as its own smoke test: one
step of each paper preset of a task on the CPU, bare and recorded."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "gpu_check.py"
LINE = r"mlp-cifar10 {}: [\d.]+ ms/step bare, [\d.]+ ms/step recorded every step \([\d.]+x\)"


@pytest.mark.slow
def test_gpu_check_runs_each_paper_preset_of_a_task_on_the_cpu():
    cmd = [sys.executable, str(SCRIPT), "--device", "cpu", "--steps", "1"]
    done = subprocess.run(cmd + ["--tasks", "mlp-cifar10"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for preset in ("paper", "paper-random"):
        assert re.search(LINE.format(preset) + "; peak GPU memory -", done.stdout)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_gpu_check_without_cuda_says_how_to_smoke_test():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 1 and "pass --device cpu for a smoke test" in done.stderr
