"""The Recorder in a plain loop on 2 real processes (gloo on CPU): DDP, where rank 0 records
alone, and FSDP2 (``fully_shard``), where every rank takes part in gathering each matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from multiproc import launch
from safetensors.torch import load_file, save_file
from torch import nn

from specdyn import Pair, Recorder, Schedule, open_run
from specdyn.record import distributed

STEPS, EVERY = 6, 2


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 31), nn.ReLU(), nn.Linear(31, 4)
    )


def _train(model: nn.Module, rank: int, recorders: list[Recorder]) -> None:
    """SGD on this rank's own batches; every recorder stepped before each update."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    data = torch.Generator().manual_seed(100 + rank)
    for step in range(STEPS + 1):
        for recorder in recorders:
            recorder.step(step, model)
        if step == STEPS:
            break
        x = torch.randn(16, 32, generator=data)
        loss = model(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for recorder in recorders:
        recorder.finish()


def _schedule() -> Schedule:
    return Schedule(every=EVERY, last=STEPS)


def _ddp_worker(rank: int, out: str) -> None:
    out_dir = Path(out)
    model = nn.parallel.DistributedDataParallel(_mlp())
    every_rank = Recorder(out_dir / "every-rank", _schedule(), pairs=[Pair("0", "2")], top_k=8)
    recorders = [every_rank]
    if rank == 0:  # a second run folder that only rank 0 records: no rank waits for it
        recorders.append(Recorder(out_dir / "rank0-only", _schedule(), top_k=8))
    _train(model, rank, recorders)
    assert not every_rank.writes if rank else every_rank.writes
    bare = nn.parallel.DistributedDataParallel(_mlp())
    _train(bare, rank, [])
    if rank == 0:
        save_file(dict(model.module.state_dict()), out_dir / "recorded.safetensors")
        save_file(dict(bare.module.state_dict()), out_dir / "bare.safetensors")


def _same_weights_in_one_process(folder: Path, weights: dict[str, torch.Tensor], tmp: Path):
    """The run's last step against a one-process Recorder of the same weights."""
    model = _mlp()
    model.load_state_dict(weights)
    single = Recorder(tmp / "single", Schedule(at=(STEPS,)), pairs=[Pair("0", "2")], top_k=8)
    single.step(STEPS, model)
    single.finish()
    run, one = open_run(folder), open_run(tmp / "single")
    assert run.matrices == one.matrices == ["0", "2", "4"]
    assert run.steps.tolist() == [0, 2, 4, 6]
    for name in run.matrices:
        np.testing.assert_array_equal(
            run.singular_values(name)[1][-1], one.singular_values(name)[1][0]
        )
        for mine, theirs in zip(run.vectors(name, STEPS), one.vectors(name, STEPS), strict=True):
            np.testing.assert_array_equal(mine, theirs)


def test_ddp_rank0_records_and_training_is_unchanged(tmp_path):
    launch(_ddp_worker, str(tmp_path), timeout=60)
    recorded = load_file(tmp_path / "recorded.safetensors")
    bare = load_file(tmp_path / "bare.safetensors")
    assert all(torch.equal(recorded[k], bare[k]) for k in bare)
    _same_weights_in_one_process(tmp_path / "every-rank", recorded, tmp_path)
    assert open_run(tmp_path / "rank0-only").steps.tolist() == [0, 2, 4, 6]
    assert open_run(tmp_path / "every-rank").pairs == ["0->2"]


def _fsdp_worker(rank: int, out: str) -> None:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    out_dir = Path(out)
    mesh = init_device_mesh("cpu", (2,))
    model = _mlp()
    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    W = model[0].weight
    assert isinstance(W, DTensor) and W.shape == (64, 32) and W.to_local().shape == (32, 32)
    assert distributed.is_sharded(model)
    recorder = Recorder(out_dir / "fsdp", _schedule(), pairs=[Pair("0", "2")], top_k=8)
    _train(model, rank, [recorder])
    full = {k: v.full_tensor() for k, v in model.state_dict().items()}  # every rank gathers
    assert recorder.writes == (rank == 0)
    if rank == 0:
        save_file(full, out_dir / "final.safetensors")


def test_fsdp2_records_the_spectra_of_the_whole_weights(tmp_path):
    launch(_fsdp_worker, str(tmp_path), timeout=60)
    final = load_file(tmp_path / "final.safetensors")
    run = open_run(tmp_path / "fsdp")
    assert run.matrices == ["0", "2", "4"] and run.steps.tolist() == [0, 2, 4, 6]
    for name in run.matrices:
        W = final[f"{name}.weight"].double().numpy()
        expected = np.linalg.svd(W, compute_uv=False)
        np.testing.assert_allclose(run.singular_values(name)[1][-1], expected, rtol=1e-5, atol=1e-6)
    assert run.pairs == ["0->2"]
    assert not run.metrics.query("step == 6 and metric == 'alignment'").empty


def _writer_worker(rank: int, out: str) -> None:
    from specdyn.store.writer import RunWriter

    if rank == 1:
        with pytest.raises(ValueError, match="RunWriter on rank 1"):
            Recorder(RunWriter(Path(out) / "other"), 2)
        recorder = Recorder(Path(out) / "run", 2)
        with pytest.raises(RuntimeError, match="rank 1 writes no run"):
            recorder.run  # noqa: B018


def test_only_rank0_opens_the_run_folder(tmp_path):
    launch(_writer_worker, str(tmp_path), timeout=60)
    assert not (tmp_path / "run").exists()


def _transformer_worker(rank: int, out: str) -> None:
    """FSDP2 on the project's Transformer: attention blocks and per-head slices of DTensors."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    from specdyn.integrations.live import LiveRecorder
    from specdyn.models.transformer_lm import TransformerLM, TransformerLMConfig, alignment_pairs

    cfg = TransformerLMConfig(vocab_size=50, context=8, n_layers=2, d_model=12, n_heads=3, d_mlp=20)
    torch.manual_seed(0)
    model = TransformerLM(cfg)
    mesh = init_device_mesh("cpu", (2,))
    for block in model.blocks:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    recorder = Recorder(
        Path(out) / "lm", Schedule(at=(0,)), alignment_pairs(cfg), top_k=4, heads=True
    )
    gathered, real = [], distributed.whole

    def counting(W):
        if isinstance(W, DTensor):
            gathered.append(W.shape)
        return real(W)

    distributed.whole = counting
    try:
        recorder.step(0, model)
    finally:
        distributed.whole = real
    recorder.finish()
    # each 2-D parameter gathered once (q/k/v and heads are views of it), out_proj once
    # more for its per-head blocks
    matrices = [p.shape for p in model.parameters() if p.ndim == 2]
    assert len(gathered) == len(matrices) + cfg.n_layers, (gathered, matrices)
    full = {k: v.full_tensor() for k, v in model.state_dict().items()}
    if rank == 0:
        save_file(full, Path(out) / "lm.safetensors")
        with pytest.raises(ValueError, match="sharded"):  # the callbacks record on rank 0 only
            LiveRecorder(Path(out) / "live", Schedule(at=(0,))).record(0, model)


def test_fsdp2_transformer_with_heads_records_as_one_process(tmp_path):
    from specdyn.models.transformer_lm import TransformerLM, TransformerLMConfig, alignment_pairs

    launch(_transformer_worker, str(tmp_path), timeout=60)
    cfg = TransformerLMConfig(vocab_size=50, context=8, n_layers=2, d_model=12, n_heads=3, d_mlp=20)
    model = TransformerLM(cfg)
    model.load_state_dict(load_file(tmp_path / "lm.safetensors"))
    one = Recorder(tmp_path / "one", Schedule(at=(0,)), alignment_pairs(cfg), top_k=4, heads=True)
    one.step(0, model)
    one.finish()
    run, single = open_run(tmp_path / "lm"), open_run(tmp_path / "one")
    assert run.matrices == single.matrices and "blocks.1.attn.in_proj_weight.v.h2" in run.matrices
    assert run.pairs == single.pairs
    for name in run.matrices:
        np.testing.assert_allclose(
            run.singular_values(name)[1], single.singular_values(name)[1], rtol=1e-5, atol=1e-6
        )
    both = run.metrics.merge(single.metrics, on=["step", "matrix", "metric"])
    np.testing.assert_allclose(both["value_x"], both["value_y"], rtol=1e-4, atol=1e-6)


def _fsdp1_worker(rank: int, out: str) -> None:
    from torch.distributed.fsdp import FullyShardedDataParallel

    model = _mlp()
    wrapped = FullyShardedDataParallel(model, device_id=torch.device("cpu"))
    assert distributed.is_fsdp1(wrapped)
    recorder = Recorder(Path(out) / "fsdp1", _schedule(), pairs=[Pair("0", "2")], top_k=8)
    _train(wrapped, rank, [recorder])
    with FullyShardedDataParallel.summon_full_params(wrapped, writeback=False):
        full = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if rank == 0:
        save_file(full, Path(out) / "final.safetensors")


def test_fsdp1_records_the_spectra_of_the_whole_weights(tmp_path):
    launch(_fsdp1_worker, str(tmp_path), timeout=60)
    final = load_file(tmp_path / "final.safetensors")
    run = open_run(tmp_path / "fsdp1")
    assert run.matrices == ["0", "2", "4"] and run.steps.tolist() == [0, 2, 4, 6]
    for name in run.matrices:
        expected = np.linalg.svd(final[f"{name}.weight"].double().numpy(), compute_uv=False)
        np.testing.assert_allclose(run.singular_values(name)[1][-1], expected, rtol=1e-5, atol=1e-6)
