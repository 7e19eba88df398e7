"""Mixture of experts: one matrix per expert, whether stored per expert or stacked in one
3-D tensor, never flattened."""

from __future__ import annotations

import numpy as np
import torch
from safetensors.torch import save_file

from specdyn.checkpoints.analyze import AnalyzeOptions, analyze
from specdyn.checkpoints.mapping import Hints, plan_matrices, read
from specdyn.checkpoints.readers import MemorySource
from specdyn.store.reader import open_run

E, D, F = 4, 12, 20  # experts, hidden, expert intermediate


def _mixtral(seed: int) -> dict[str, torch.Tensor]:
    """Mixtral's layout: block_sparse_moe.gate and experts.N.w1 / w2 / w3 (out, in)."""
    torch.manual_seed(seed)
    prefix = "model.layers.0.block_sparse_moe"
    state = {f"{prefix}.gate.weight": torch.randn(E, D)}
    for e in range(E):
        state[f"{prefix}.experts.{e}.w1.weight"] = torch.randn(F, D)
        state[f"{prefix}.experts.{e}.w2.weight"] = torch.randn(D, F)
        state[f"{prefix}.experts.{e}.w3.weight"] = torch.randn(F, D)
    return state


def _stacked(seed: int) -> dict[str, torch.Tensor]:
    """Hugging Face's fused experts: (num_experts, d_in, d_out) tensors."""
    torch.manual_seed(seed)
    return {
        "model.layers.0.mlp.router.weight": torch.randn(E, D),
        "model.layers.0.mlp.experts.gate_up_proj": torch.randn(E, D, 2 * F),
        "model.layers.0.mlp.experts.down_proj": torch.randn(E, F, D),
    }


def test_per_expert_weights_are_named_by_expert():
    state = _mixtral(0)
    with MemorySource(state) as source:
        got = dict(read(source, plan_matrices(source.tensors, Hints())))
    prefix = "model.layers.0.block_sparse_moe"
    assert f"{prefix}.experts.w1.e3" in got and f"{prefix}.gate" in got
    assert len(got) == 1 + 3 * E
    assert torch.equal(got[f"{prefix}.experts.w2.e1"], state[f"{prefix}.experts.1.w2.weight"])


def test_stacked_experts_are_one_matrix_each_not_flattened():
    state = _stacked(1)
    with MemorySource(state) as source:
        specs = plan_matrices(source.tensors, Hints())
        got = dict(read(source, specs))
    name = "model.layers.0.mlp.experts.gate_up_proj"
    assert [s.name for s in specs if s.name.startswith(name)] == [f"{name}.e{i}" for i in range(E)]
    assert got[f"{name}.e2"].shape == (2 * F, D)
    assert torch.equal(got[f"{name}.e2"], state[name][2].T)
    assert got["model.layers.0.mlp.experts.down_proj.e0"].shape == (D, F)


def test_moe_series_records_every_expert(tmp_path):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    for step in (1, 2):
        save_file(_stacked(step) | _mixtral(step), folder / f"step_{step}.safetensors")
    run = open_run(analyze([folder], tmp_path / "run", options=AnalyzeOptions(top_k=3)))
    assert len(run.matrices) == 2 + 2 * E + 3 * E
    _, s = run.singular_values("model.layers.0.mlp.experts.down_proj.e3")
    W = _stacked(2)["model.layers.0.mlp.experts.down_proj"][3].double()
    assert np.allclose(s[1], torch.linalg.svdvals(W).numpy(), atol=1e-5)
