"""DDP for real under ``torchrun --nproc_per_node 2`` (gloo, CPU): a plain loop with a
Recorder, a Lightning ``strategy="ddp"`` fit and a Hugging Face Trainer with their
callbacks (tests/distributed_scripts.py).
Rank 0 records; its spectra are those of the same weights recorded in one process, and the
final weights equal those of the same training without the callback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from distributed_scripts import EVERY, STEPS, TOP_K, gpt2
from multiproc import torchrun
from safetensors.torch import load_file
from torch import nn

from specdyn.integrations.live import LiveRecorder
from specdyn.record.schedule import Schedule
from specdyn.store.reader import open_run


def _check(out: Path, model: nn.Module, hints=None) -> None:
    recorded = load_file(out / "recorded.safetensors")
    bare = load_file(out / "bare.safetensors")
    assert recorded.keys() == bare.keys()
    assert all(torch.equal(recorded[k], bare[k]) for k in bare)
    model.load_state_dict(recorded)
    one = LiveRecorder(
        out / "one", Schedule(at=(STEPS,)), top_k=TOP_K, **({"hints": hints} if hints else {})
    )
    one.record(STEPS, model)
    one.finish()
    live, single = open_run(out / "live"), open_run(out / "one")
    assert live.steps.tolist() == list(range(0, STEPS + 1, EVERY))
    assert live.matrices == single.matrices and live.pairs == single.pairs
    for name in live.matrices:
        np.testing.assert_array_equal(
            live.singular_values(name)[1][-1], single.singular_values(name)[1][0]
        )
        for mine, theirs in zip(
            live.vectors(name, STEPS), single.vectors(name, STEPS), strict=True
        ):
            np.testing.assert_array_equal(mine, theirs)


class _Regressor(nn.Module):  # the Lightning module's parameters, under the same names
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 24), nn.ReLU(), nn.Linear(24, 16), nn.Linear(16, 1))


def test_plain_loop_under_torchrun_records_on_rank0(tmp_path):
    torchrun(["plain", str(tmp_path)])
    recorded = load_file(tmp_path / "recorded.safetensors")
    bare = load_file(tmp_path / "bare.safetensors")
    assert all(torch.equal(recorded[k], bare[k]) for k in bare)
    model = _Regressor()
    model.load_state_dict(recorded)
    run = open_run(tmp_path / "live")
    assert run.matrices == ["0", "2", "3"] and run.pairs == ["0->2"]
    for name in run.matrices:
        W = model.net[int(name)].weight.detach().double().numpy()
        expected = np.linalg.svd(W, compute_uv=False)
        np.testing.assert_allclose(run.singular_values(name)[1][-1], expected, rtol=1e-5)


def test_lightning_ddp_records_on_rank0(tmp_path):
    pytest.importorskip("lightning")
    torchrun(["lightning", str(tmp_path)])
    _check(tmp_path, _Regressor())
    logged = next(tmp_path.glob("logs/lightning_logs/*/metrics.csv")).read_text()
    assert "specdyn/stable_rank/net.2" in logged and "specdyn/summary/stable_rank" in logged


def test_huggingface_trainer_ddp_records_on_rank0(tmp_path):
    transformers = pytest.importorskip("transformers")
    from specdyn.integrations.huggingface import _hints

    torchrun(["huggingface", str(tmp_path)])
    model = gpt2(transformers)
    _check(tmp_path, model, _hints(model))
