"""Training flushes denormal floats to zero (fast CPU steps late in a run), and only while
it trains."""

from __future__ import annotations

import torch

from specdyn.tasks import get_preset
from specdyn.train import loop
from specdyn.train.denormals import flushed_denormals

TINY = 1e-39  # below float32's smallest normal number, 1.18e-38


def _denormal_survives() -> bool:
    return bool(torch.tensor([TINY], dtype=torch.float32)[0] * 1.0 != 0)


def test_denormals_are_flushed_inside_the_block_only():
    assert _denormal_survives()
    with flushed_denormals():
        assert not _denormal_survives()
    assert _denormal_survives()


def test_a_run_trains_with_denormals_flushed(tmp_path, monkeypatch):
    seen = []
    real = loop._loop
    monkeypatch.setattr(loop, "_loop", lambda *a: (seen.append(_denormal_survives()), real(*a)))
    loop.train(get_preset("grokking", "tiny"), tmp_path / "run", torch.device("cpu"), False)
    assert seen == [False] and _denormal_survives()
