"""Bad input at scale: a tensor too large for the memory budget is refused from its header,
before any read; a pickle under a .safetensors name and a corrupt shard are one line."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from specdyn.checkpoints import budget
from specdyn.checkpoints.readers import SafetensorsSource, StateDictSource
from specdyn.cli.main import main


def _error(capsys, *argv: str) -> str:
    assert main(["analyze", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("specdyn: error: ") and err.count("\n") == 1, err
    return err


def _huge_header_file(path: Path, n: int = 40000) -> Path:
    """A safetensors file whose header honestly declares an (n, n) float32 tensor; the
    data is a hole in a sparse file, so the file is valid but takes no disk."""
    header = {"big.weight": {"dtype": "F32", "shape": [n, n], "data_offsets": [0, 4 * n * n]}}
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.truncate(8 + len(text) + 4 * n * n)
    return path


def _no_reads(monkeypatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("a tensor was read")

    monkeypatch.setattr(SafetensorsSource, "get", refuse)
    monkeypatch.setattr(StateDictSource, "get", refuse)


def test_huge_declared_tensor_is_refused_before_any_read(tmp_path, capsys, monkeypatch):
    path = _huge_header_file(tmp_path / "huge.safetensors")
    _no_reads(monkeypatch)
    err = _error(capsys, str(path), "--out", str(tmp_path / "run"), "--max-memory", "2GB")
    assert "'big.weight'" in err and "40000x40000 F32" in err and "6.4 GB" in err
    assert "2.0 GB" in err and "--max-memory" in err
    assert not (tmp_path / "run").exists()


def test_default_budget_is_the_free_memory(tmp_path, capsys, monkeypatch):
    path = _huge_header_file(tmp_path / "huge.safetensors")
    _no_reads(monkeypatch)
    monkeypatch.setattr(budget, "free_memory", lambda: 3 * 10**9)
    from specdyn.checkpoints import analyze as analyze_module

    monkeypatch.setattr(analyze_module, "free_memory", lambda: 3 * 10**9)
    assert "more than the 3.0 GB" in _error(capsys, str(path), "--out", str(tmp_path / "r"))


def test_tensor_within_the_budget_is_analysed(tmp_path, capsys):
    save_file({"fc.weight": torch.randn(64, 32)}, tmp_path / "w.safetensors")
    out = tmp_path / "run"
    argv = [str(tmp_path / "w.safetensors"), "--out", str(out), "--max-memory", "1MB"]
    assert main(["analyze", *argv, "--top-k", "2"]) == 0
    assert "'fc.weight'" in _error(capsys, *argv[:3], "--max-memory", "10kB")


@pytest.mark.parametrize("bad", ["lots", "-1GB", "2XB"])
def test_bad_max_memory_is_one_line(tmp_path, capsys, bad):
    with pytest.raises(SystemExit) as exit_info:
        main(["analyze", str(tmp_path), "--max-memory", bad])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("specdyn: error: ") and "--max-memory" in err and err.count("\n") == 1


@pytest.mark.parametrize("zipped", [False, True])
def test_pytorch_file_named_safetensors_is_one_line(tmp_path, capsys, zipped):
    path = tmp_path / "model.safetensors"
    state = {"fc.weight": torch.ones(3, 3)}
    if zipped:
        torch.save(state, path)
    else:
        with open(path, "wb") as f:
            pickle.dump({"fc.weight": [1.0, 2.0]}, f, protocol=4)
    err = _error(capsys, str(path), "--out", str(tmp_path / "run"))
    assert "model.safetensors' is named .safetensors but holds a PyTorch" in err


def _sharded(folder: Path, step: int) -> None:
    folder.mkdir(parents=True)
    torch.manual_seed(step)
    shards = {
        "model-00001-of-00002.safetensors": {"a.weight": torch.randn(8, 6)},
        "model-00002-of-00002.safetensors": {"b.weight": torch.randn(5, 8)},
    }
    for name, state in shards.items():
        save_file(state, folder / name)
    index = {"weight_map": {k: name for name, st in shards.items() for k in st}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))


def test_corrupt_shard_mid_series_names_the_shard(tmp_path, capsys):
    for step in (1, 2, 3):
        _sharded(tmp_path / "run-out" / f"checkpoint-{step}", step)
    shard = tmp_path / "run-out" / "checkpoint-2" / "model-00002-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-20])
    err = _error(capsys, str(tmp_path / "run-out"), "--out", str(tmp_path / "run"))
    assert str(shard) in err
    assert not (tmp_path / "run").exists()


def test_shard_cut_after_planning_names_the_shard_and_tensor(tmp_path):
    _sharded(tmp_path / "ck", 1)
    source = SafetensorsSource(sorted((tmp_path / "ck").glob("*.safetensors")), "ck")
    shard = tmp_path / "ck" / "model-00002-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-20])
    with pytest.raises(Exception, match="'b.weight' of '.*model-00002-of-00002.safetensors'"):
        source.get("b.weight")
