"""Shared fixtures: one tiny grokking run, trained once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from specdyn.tasks import get_preset
from specdyn.train import train


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished run of the grokking ``tiny`` preset (20 steps, recorded every 5)."""
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    train(get_preset("grokking", "tiny"), run_dir, torch.device("cpu"), progress=False)
    return run_dir
