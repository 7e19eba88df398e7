"""LoRA adapters: each update dW = (alpha / r) B A from its factors, never the product;
PEFT's own files, a Trainer series of them, and the merged W + dW with --base."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from specdyn.checkpoints.analyze import AnalyzeOptions, analyze
from specdyn.cli.main import main
from specdyn.spectral.lowrank import LowRank, lowrank_decompose
from specdyn.store.reader import open_run


def _same_vectors(X: torch.Tensor, Y: torch.Tensor) -> None:
    """Columns equal up to sign (distinct singular values)."""
    assert torch.allclose(
        (X.double().T @ Y.double()).diagonal().abs(),
        torch.ones(X.shape[1], dtype=torch.float64),
        atol=1e-6,
    )


@pytest.mark.parametrize(("m", "n", "r"), [(64, 48, 4), (20, 90, 7), (33, 33, 1)])
def test_lowrank_matches_the_svd_of_the_product(m, n, r):
    torch.manual_seed(m)
    W = LowRank(torch.randn(m, r, dtype=torch.float64), torch.randn(r, n, dtype=torch.float64), 2.5)
    dense = W.dense()
    U, s, Vh = torch.linalg.svd(dense, full_matrices=False)
    got = lowrank_decompose("w", W, k=10)
    assert got.s.shape == (min(m, n),)
    assert torch.allclose(got.s, s, atol=1e-10 * float(s[0]))
    assert torch.equal(got.s[r:], torch.zeros(min(m, n) - r, dtype=torch.float64))
    kept = min(10, r)
    assert got.U is not None and got.V is not None and got.U.shape == (m, kept)
    _same_vectors(got.U, U[:, :kept])
    _same_vectors(got.V, Vh.T[:, :kept])
    assert lowrank_decompose("w", W, k=0).U is None


def test_lowrank_names_bad_factors():
    with pytest.raises(ValueError, match=r"B \(5, 3\) and A \(2, 4\)"):
        LowRank(torch.ones(5, 3), torch.ones(2, 4))
    bad = torch.ones(5, 2)
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="'x.lora' \\(B: 5x2\\)"):
        lowrank_decompose("x.lora", LowRank(bad, torch.ones(2, 4)))


class _Attn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q_proj = nn.Linear(16, 16, bias=False)
        self.v_proj = nn.Linear(16, 8, bias=False)


class _Tiny(nn.Module):
    """The module names of a LLaMA decoder (model.layers.N.self_attn.q_proj)."""

    def __init__(self) -> None:
        super().__init__()
        self.model = nn.Module()
        self.model.layers = nn.ModuleList([nn.ModuleDict({"self_attn": _Attn()}) for _ in range(2)])


def _peft_adapter(folder: Path, seed: int, base: nn.Module) -> nn.Module:
    """A PEFT LoRA adapter saved by PEFT itself (r=4, alpha=8, random B)."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    model = get_peft_model(base, config)
    model.save_pretrained(str(folder))
    return model


def _base(folder: Path) -> nn.Module:
    torch.manual_seed(0)
    model = _Tiny()
    folder.mkdir(parents=True)
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, folder / "model.safetensors"
    )
    return model


def _update(model: nn.Module, module: str) -> torch.Tensor:
    layer = model.get_submodule(f"base_model.model.{module}")
    return layer.get_delta_weight("default").detach().double()


def test_peft_adapter_series_records_each_update(tmp_path, capsys):
    base = tmp_path / "base"
    models = {}
    for step in (5, 10):
        folder = tmp_path / "trainer" / f"checkpoint-{step}"
        models[step] = _peft_adapter(folder, step, _base(base) if step == 5 else _fresh(base))
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    out = tmp_path / "run"
    assert main(["analyze", str(tmp_path / "trainer"), "--out", str(out), "--top-k", "3"]) == 0
    run = open_run(out)
    assert list(run.steps) == [5, 10]
    name = "model.layers.1.self_attn.v_proj"
    assert f"{name}.lora" in run.matrices and len(run.matrices) == 4
    steps, s = run.singular_values(f"{name}.lora")
    expected = torch.linalg.svdvals(_update(models[10], name)).numpy()
    assert s.shape[1] == 8 and np.allclose(s[1], expected, atol=1e-5)


def _fresh(base: Path) -> nn.Module:
    from safetensors.torch import load_file

    model = _Tiny()
    model.load_state_dict(load_file(base / "model.safetensors"))
    return model


def test_base_adds_the_merged_weights(tmp_path):
    base_model = _base(tmp_path / "base")
    W0 = base_model.state_dict()["model.layers.0.self_attn.q_proj.weight"].double().clone()
    peft_model = _peft_adapter(tmp_path / "adapter", 3, base_model)
    dW = _update(peft_model, "model.layers.0.self_attn.q_proj")
    out = analyze(
        [tmp_path / "adapter"],
        tmp_path / "run",
        options=AnalyzeOptions(top_k=2, base=str(tmp_path / "base")),
    )
    run = open_run(out)
    assert "model.layers.0.self_attn.q_proj" in run.matrices
    _, merged = run.singular_values("model.layers.0.self_attn.q_proj")
    assert np.allclose(merged[0], torch.linalg.svdvals(W0 + dW).numpy(), atol=1e-5)
    _, update = run.singular_values("model.layers.0.self_attn.q_proj.lora")
    assert np.allclose(update[0], torch.linalg.svdvals(dW).numpy(), atol=1e-5)


def test_adapter_without_its_config_is_one_line(tmp_path, capsys):
    folder = tmp_path / "adapter"
    folder.mkdir()
    save_file(
        {
            "base_model.model.fc.lora_A.weight": torch.ones(2, 4),
            "base_model.model.fc.lora_B.weight": torch.ones(3, 2),
        },
        folder / "adapter_model.safetensors",
    )
    assert main(["analyze", str(folder), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "no adapter_config.json gives lora_alpha" in err and err.count("\n") == 1


def test_scale_follows_rslora_and_alpha_pattern(tmp_path):
    from specdyn.checkpoints.adapters import Adapter

    adapter = Adapter(16.0, rslora=False, alpha_pattern=(("v_proj", 4.0),))
    assert adapter.scale("model.layers.0.self_attn.q_proj", 8) == 2.0
    assert adapter.scale("model.layers.0.self_attn.v_proj", 8) == 0.5
    assert Adapter(16.0, rslora=True).scale("x", 16) == 4.0


class _Gpt2Like(nn.Module):
    """An embedding and a GPT-2 Conv1D (weight stored (d_in, d_out))."""

    def __init__(self) -> None:
        from transformers.pytorch_utils import Conv1D

        super().__init__()
        self.wte = nn.Embedding(30, 12)
        self.c_attn = Conv1D(18, 12)


@pytest.mark.parametrize("module", ["wte", "c_attn"])
def test_embedding_and_fan_in_fan_out_updates_match_what_peft_merges(tmp_path, module):
    """lora_embedding_A/B and fan_in_fan_out factors: the update is recorded in the base
    weight's orientation, as PEFT's get_delta_weight gives it; values, vectors and the
    merged W + dW with --base."""
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file

    torch.manual_seed(0)
    base = tmp_path / "base"
    base.mkdir()
    save_file(_Gpt2Like().state_dict(), base / "model.safetensors")
    model = _Gpt2Like()
    model.load_state_dict(load_file(base / "model.safetensors"))
    W0 = model.state_dict()[f"{module}.weight"].double().clone()
    config = LoraConfig(
        r=3, lora_alpha=6, target_modules=["wte", "c_attn"], init_lora_weights=False,
        fan_in_fan_out=True,
    )  # fmt: skip
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(str(tmp_path / "adapter"))
    dW = _update(peft_model, module)
    assert dW.shape == W0.shape  # PEFT's update is in the base weight's orientation
    options = AnalyzeOptions(top_k=3, base=str(base))
    run = open_run(analyze([tmp_path / "adapter"], tmp_path / "run", options=options))
    _, s = run.singular_values(f"{module}.lora")
    assert np.allclose(s[0][:3], torch.linalg.svdvals(dW).numpy()[:3], atol=1e-5)
    U, s_ref, Vh = torch.linalg.svd(dW, full_matrices=False)
    got_U, got_V = run.vectors(f"{module}.lora", int(run.steps[0]))
    assert got_U.shape == (W0.shape[0], 3) and got_V.shape == (W0.shape[1], 3)
    _same_vectors(torch.from_numpy(got_U), U[:, :3])
    _same_vectors(torch.from_numpy(got_V), Vh.T[:, :3])
    _, merged = run.singular_values(module)
    assert np.allclose(merged[0], torch.linalg.svdvals(W0 + dW).numpy(), atol=1e-5)
