"""Reading checkpoints without the model class: formats by content, 2-D mapping, steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from specdyn.checkpoints.mapping import Hints, plan_matrices, read
from specdyn.checkpoints.readers import open_file, open_index, sniff
from specdyn.checkpoints.series import discover, step_from_name
from specdyn.errors import CheckpointError
from specdyn.spectral.matrices import weight_matrices


class Net(nn.Module):
    """Every layer kind training knows how to flatten, except transposed convolutions."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(11, 8)
        self.attn = nn.MultiheadAttention(8, 2)
        self.conv = nn.Conv2d(3, 4, 3)
        self.lstm = nn.LSTM(8, 6, num_layers=2, bidirectional=True)
        self.gru = nn.GRU(8, 5)
        self.fc = nn.Linear(12, 3)
        self.norm = nn.LayerNorm(3)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def _matrices(source, hints: Hints, heads: bool = False) -> dict[str, torch.Tensor]:
    return {n: W.clone() for n, W in read(source, plan_matrices(source.tensors, hints, heads))}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.parametrize("heads", [False, True])
def test_safetensors_matches_training_names_and_layout(tmp_path, heads):
    torch.manual_seed(0)
    model = Net()
    save_file(_state(model), tmp_path / "w.safetensors")
    with open_file(tmp_path / "w.safetensors") as source:
        got = _matrices(source, Hints(n_heads=2), heads)
    _same(got, {n: W.clone() for n, W in weight_matrices(model, heads=heads).items()})
    assert "lstm.weight_hh_l1_reverse.o" in got and "gru.weight_ih_l0.z" in got


def test_torch_formats_and_sharded_safetensors_agree(tmp_path):
    torch.manual_seed(1)
    model = Net()
    state = _state(model)
    expected = {n: W.clone() for n, W in weight_matrices(model).items()}
    torch.save(state, tmp_path / "new.pt")
    torch.save(state, tmp_path / "legacy.bin", _use_new_zipfile_serialization=False)
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "nested.ckpt")
    keys = list(state)
    shards = {"a.safetensors": keys[: len(keys) // 2], "b.safetensors": keys[len(keys) // 2 :]}
    for file, names in shards.items():
        save_file({k: state[k] for k in names}, tmp_path / file)
    index = {"weight_map": {k: f for f, names in shards.items() for k in names}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    assert sniff(tmp_path / "new.pt") == sniff(tmp_path / "legacy.bin") == "torch"
    assert sniff(tmp_path / "a.safetensors") == "safetensors"
    for name in ("new.pt", "legacy.bin", "nested.ckpt"):
        with open_file(tmp_path / name) as source:
            _same(_matrices(source, Hints()), expected)
    with open_index(tmp_path / "model.safetensors.index.json") as source:
        _same(_matrices(source, Hints()), expected)


def test_tied_weights_in_a_state_dict_come_once(tmp_path):
    embed = nn.Embedding(7, 4)
    head = nn.Linear(4, 7, bias=False)
    head.weight = embed.weight
    model = nn.ModuleDict({"embed": embed, "head": head})
    torch.save(model.state_dict(), tmp_path / "tied.pt")
    with open_file(tmp_path / "tied.pt") as source:
        assert list(_matrices(source, Hints())) == list(weight_matrices(model)) == ["embed"]


def test_gpt2_conv1d_is_transposed_and_split(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=13, n_positions=6)
    model = transformers.GPT2LMHeadModel(cfg)
    save_file(_state(model.transformer), tmp_path / "w.safetensors")
    with open_file(tmp_path / "w.safetensors") as source:
        got = _matrices(source, Hints("gpt2", 2), heads=True)
    attn = model.transformer.h[0].attn
    W = attn.c_attn.weight.detach().T  # (3d, d), rows q | k | v
    assert torch.equal(got["h.0.attn.c_attn"], W)
    assert torch.equal(got["h.0.attn.c_attn.k"], W[8:16])
    assert torch.equal(got["h.0.attn.c_attn.v.h1"], W[20:24])
    assert torch.equal(got["h.0.attn.c_proj.h0"], attn.c_proj.weight.detach().T[:, :4])
    assert torch.equal(got["h.0.mlp.c_fc"], model.transformer.h[0].mlp.c_fc.weight.detach().T)
    x = torch.randn(1, 5, 8)  # the model's own q: the first d output columns of c_attn
    q = attn.c_attn(x)[..., :8]
    assert torch.allclose(q, x @ got["h.0.attn.c_attn.q"].T + attn.c_attn.bias[:8], atol=1e-6)


def test_neox_query_key_value_is_regrouped_by_head(tmp_path):
    torch.manual_seed(0)
    d, heads, dh = 8, 2, 4
    W = torch.randn(3 * d, d)
    save_file({"gpt_neox.layers.0.attention.query_key_value.weight": W}, tmp_path / "w.safetensors")
    with open_file(tmp_path / "w.safetensors") as source:
        got = _matrices(source, Hints("gpt_neox", heads), heads=True)
        plain = _matrices(source, Hints(), heads=True)  # no config: only the whole matrix
    name = "gpt_neox.layers.0.attention.query_key_value"
    assert list(plain) == [name]
    rows = W.reshape(heads, 3, dh, d)  # NeoX: (head, q|k|v, d_head)
    assert torch.equal(got[f"{name}.v"], rows[:, 2].reshape(d, d))
    assert torch.equal(got[f"{name}.k.h1"], rows[1, 1])


def test_steps_from_names():
    assert step_from_name("checkpoint-500") == 500
    assert step_from_name("step_00000100.safetensors") == 100
    assert step_from_name("epoch=0-step=20.ckpt") == 20
    assert step_from_name("1000.pt") == 1000
    assert step_from_name("iter3000") == 3000
    assert step_from_name("pythia-160m") is None
    assert step_from_name("model.safetensors") is None


def _save_linear(path: Path, seed: int, shape=(6, 4)) -> None:
    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"fc.weight": torch.randn(*shape), "fc.bias": torch.zeros(shape[0])}, path)


def test_trainer_folder_steps_from_trainer_state(tmp_path):
    for n, global_step in ((5, 5), (10, 12)):
        _save_linear(tmp_path / f"checkpoint-{n}" / "model.safetensors", n)
        (tmp_path / f"checkpoint-{n}" / "optimizer.pt").write_bytes(b"\x80\x04not weights")
        state = {"global_step": global_step}
        (tmp_path / f"checkpoint-{n}" / "trainer_state.json").write_text(json.dumps(state))
    assert [c.step for c in discover([tmp_path])] == [5, 12]


def test_folder_of_stepped_files_and_explicit_steps(tmp_path):
    for step in (30, 10, 20):
        _save_linear(tmp_path / "ckpts" / f"step_{step}.safetensors", step)
    assert [c.step for c in discover([tmp_path / "ckpts"])] == [10, 20, 30]
    _save_linear(tmp_path / "a" / "model.safetensors", 1)
    _save_linear(tmp_path / "b" / "model.safetensors", 2)
    with pytest.raises(CheckpointError, match="pass --steps"):
        discover([tmp_path / "a", tmp_path / "b"])
    series = discover([tmp_path / "a", tmp_path / "b"], steps=[3, 7])
    assert [(c.step, c.path.name) for c in series] == [(3, "a"), (7, "b")]
    # steps that are not increasing would reorder the series silently: refused
    with pytest.raises(CheckpointError, match="strictly increasing"):
        discover([tmp_path / "a", tmp_path / "b"], steps=[7, 3])
    assert [c.step for c in discover([tmp_path / "a"])] == [0]  # a lone checkpoint
