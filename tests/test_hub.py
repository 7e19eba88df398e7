"""``specdyn analyze hf:OWNER/NAME@REV,...`` against a local server with the Hub's layout.

The server (tests/fake_hub.py) runs in a thread on 127.0.0.1; ``HF_ENDPOINT`` points at it
and huggingface_hub itself, unmocked, lists and downloads the revisions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_hub import FakeHub, commit_of
from safetensors.torch import save, save_file

from specdyn.checkpoints import hub
from specdyn.checkpoints.analyze import AnalyzeOptions, analyze
from specdyn.cli.main import main
from specdyn.errors import ConfigError
from specdyn.store import layout
from specdyn.store.reader import open_run

REPO = "tiny/gpt"
CONFIG = {"model_type": "gpt2", "n_head": 2, "n_layer": 2, "n_embd": 8}


def _gpt2_state(seed: int, d: int = 8, vocab: int = 11) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state = {"transformer.wte.weight": torch.randn(vocab, d, generator=gen)}
    for i in range(2):
        shapes = {"attn.c_attn": (d, 3 * d), "attn.c_proj": (d, d), "mlp.c_fc": (d, 4 * d)}
        shapes["mlp.c_proj"] = (4 * d, d)
        for name, shape in shapes.items():
            state[f"transformer.h.{i}.{name}.weight"] = torch.randn(*shape, generator=gen)
            state[f"transformer.h.{i}.{name}.bias"] = torch.randn(shape[1], generator=gen)
    return state


def _files(step: int, sharded: bool = False) -> dict[str, bytes]:
    """One revision as the Hub holds it: config.json, weights (sharded or not), a README."""
    state = _gpt2_state(step)
    files = {"config.json": json.dumps(CONFIG).encode(), "README.md": b"# tiny"}
    if not sharded:
        return files | {"model.safetensors": save(state)}
    keys = sorted(state)
    shards = {
        "model-00001-of-00002.safetensors": keys[:7],
        "model-00002-of-00002.safetensors": keys[7:],
    }
    weight_map = {k: shard for shard, ks in shards.items() for k in ks}
    files["model.safetensors.index.json"] = json.dumps({"weight_map": weight_map}).encode()
    return files | {shard: save({k: state[k] for k in ks}) for shard, ks in shards.items()}


REPOS = {
    REPO: {
        "main": _files(3000),
        "step1000": _files(1000),
        "step2000": _files(2000, sharded=True),
        "step3000": _files(3000),
        "no-weights": {"config.json": b"{}", "README.md": b"# none"},
    },
    "tiny/grown": {  # its second revision has a wider model
        "step1000": _files(1000),
        "step2000": {"model.safetensors": save(_gpt2_state(2000, d=12))},
    },
}


@pytest.fixture()
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "user-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with FakeHub({repo: dict(branches) for repo, branches in REPOS.items()}) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


def _local_copy(folder: Path) -> list[Path]:
    """The same revisions as local Hugging Face model folders."""
    paths = []
    for branch in ("step1000", "step2000", "step3000"):
        path = folder / branch
        path.mkdir(parents=True)
        for name, data in REPOS[REPO][branch].items():
            (path / name).write_bytes(data)
        paths.append(path)
    return paths


def _scratch_folders(parent: Path) -> list[Path]:
    return sorted(parent.glob(".hf-*"))


def test_parse_lists_and_ranges():
    assert hub.parse("hf:EleutherAI/pythia-160m") == ("EleutherAI/pythia-160m", ["main"])
    repo, names = hub.parse("hf:o/n@step0,step1000:step3000:1000,main")
    assert repo == "o/n" and names == ["step0", "step1000", "step2000", "step3000", "main"]
    assert hub.parse("hf:o/n@step10:30:10")[1] == ["step10", "step20", "step30"]
    for bad in (
        "hf:",
        "hf:o/n@",
        "hf:o/n@a,,b",
        "hf:o/n@a:b:1",
        "hf:o/n@step3:step1:1",
        "hf:o/n@s1:s5:0",
        "hf:o/n@a,a",
        "hf:/x@a",
    ):
        with pytest.raises(ConfigError):
            hub.parse(bad)


def test_revisions_become_the_run_of_the_same_files_given_locally(server, tmp_path):
    out, seen = tmp_path / "hub", []

    def log(line: str) -> None:  # at each step, at most one revision's files on disk
        seen.append(len(_scratch_folders(out.parent)))

    spec = f"hf:{REPO}@step1000:step3000:1000"
    options = AnalyzeOptions(top_k=4, metrics="all")
    analyze([spec], out, options=options, log=log)
    local = analyze(_local_copy(tmp_path / "local"), tmp_path / "local-run", options=options)
    assert seen and max(seen) == 1 and _scratch_folders(out.parent) == []
    assert not (tmp_path / "user-cache").exists()  # the user's cache did not grow
    a, b = open_run(out), open_run(local)
    assert list(a.steps) == [1000, 2000, 3000] and a.matrices == b.matrices
    assert "transformer.h.0.attn.c_attn.q" in a.matrices and a.pairs == b.pairs
    cols = ["step", "matrix", "metric"]
    ma, mb = (r.metrics.sort_values(cols).reset_index(drop=True) for r in (a, b))
    assert ma[cols].equals(mb[cols]) and np.array_equal(ma["value"], mb["value"])
    for name in a.matrices:
        assert np.array_equal(a.singular_values(name)[1], b.singular_values(name)[1])
        assert np.array_equal(a.agreement(name)[1], b.agreement(name)[1])
    config = json.loads((out / layout.CONFIG).read_text())
    assert config["checkpoints"]["2000"] == f"hf:{REPO}@step2000"


def test_rerun_fetches_only_what_is_missing(server, tmp_path):
    out = tmp_path / "run"
    analyze([f"hf:{REPO}@step1000,step2000"], out, options=AnalyzeOptions(top_k=4))
    server.log.clear()
    analyze([f"hf:{REPO}@step1000,step2000,step3000"], out, options=AnalyzeOptions(top_k=4))
    fetched = {path.split("/")[4] for method, path in server.log if "/resolve/" in path}
    assert fetched == {commit_of(REPO, "step3000")}
    assert list(open_run(out).steps) == [1000, 2000, 3000]


def test_files_in_the_users_cache_are_read_in_place_and_kept(server, tmp_path):
    from huggingface_hub import hf_hub_download

    cache = tmp_path / "user-cache"
    sha = commit_of(REPO, "step1000")
    for name in ("config.json", "model.safetensors"):
        hf_hub_download(REPO, name, revision=sha, cache_dir=cache, endpoint=server.url)
    before = sorted(p.relative_to(cache) for p in cache.rglob("*"))
    server.log.clear()
    out = tmp_path / "run"
    analyze([f"hf:{REPO}@step1000"], out, options=AnalyzeOptions(top_k=4))
    assert not any("/resolve/" in path for _, path in server.log)  # nothing downloaded
    assert sorted(p.relative_to(cache) for p in cache.rglob("*")) == before
    assert list(open_run(out).steps) == [1000]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("hf:nobody/nothing@step1000", "no such repository"),
        (f"hf:{REPO}@step1000,step9000", "no such revision"),
        (f"hf:{REPO}@no-weights", "holds no weights"),
        (f"hf:{REPO}@step1000,main", "pass --steps"),
        ("hf:o/n@s5:s1:1", "a <= b"),
    ],
)
def test_bad_hub_input_is_one_line_and_writes_nothing(server, tmp_path, capsys, spec, message):
    out = tmp_path / "run"
    assert main(["analyze", spec, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("specdyn: error: ") and err.count("\n") == 1 and message in err, err
    assert not out.exists() and _scratch_folders(tmp_path) == []


def test_unreachable_hub_is_one_line(tmp_path, capsys, monkeypatch):
    with FakeHub({}) as dead:
        url = dead.url
    monkeypatch.setenv("HF_ENDPOINT", url)  # nothing listens there any more
    out = tmp_path / "run"
    assert main(["analyze", f"hf:{REPO}@step1000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot fetch from" in err and err.count("\n") == 1 and not out.exists()


def test_nan_in_a_later_revision_keeps_the_recorded_ones(server, tmp_path, capsys):
    bad = _gpt2_state(3000)
    bad["transformer.h.1.mlp.c_fc.weight"][0, 0] = float("nan")
    server.repos[REPO]["step3000"] = _files(3000) | {"model.safetensors": save(bad)}
    out = tmp_path / "run"
    assert main(["analyze", f"hf:{REPO}@step1000,step3000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "transformer.h.1.mlp.c_fc" in err and "step3000" in err
    assert list(open_run(out).steps) == [1000] and _scratch_folders(tmp_path) == []
    server.repos[REPO]["step3000"] = _files(3000)
    assert main(["analyze", f"hf:{REPO}@step1000,step3000", "--out", str(out)]) == 0
    assert list(open_run(out).steps) == [1000, 3000]


def test_local_path_named_like_a_spec_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("hf:x").mkdir()
    save_file(_gpt2_state(1), "hf:x/step_5.safetensors")
    assert not hub.is_hub("hf:x") and hub.is_hub("hf:o/n@main")


def test_out_that_is_not_a_run_is_refused_before_any_download(server, tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["analyze", f"hf:{REPO}@step1000", "--out", str(out)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert not any("/resolve/" in path for _, path in server.log)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_keep_downloads_ahead_within_its_bound_and_says_so(server, tmp_path):
    out, seen, lines = tmp_path / "hub", [], []

    def log(line: str) -> None:
        seen.append(len(_scratch_folders(out.parent)))
        lines.append(line)

    spec = f"hf:{REPO}@step1000:step3000:1000"
    options = AnalyzeOptions(top_k=4)
    analyze([spec], out, options=options, log=log, keep=2)
    one = analyze([spec], tmp_path / "one", options=options)
    assert max(seen) <= 2 and _scratch_folders(out.parent) == []
    assert any("at most 2 revision(s) on disk at once, --keep" in line for line in lines)
    a, b = open_run(out), open_run(one)
    for name in a.matrices:
        assert np.array_equal(a.singular_values(name)[1], b.singular_values(name)[1])
    with pytest.raises(ConfigError, match="--keep must be at least 1"):
        analyze([spec], tmp_path / "zero", options=options, keep=0)


def _same_run(a: Path, b: Path) -> None:
    """Two run folders hold the same steps, metric rows, values and agreement."""
    ra, rb = open_run(a), open_run(b)
    assert list(ra.steps) == list(rb.steps) and ra.matrices == rb.matrices
    cols = ["step", "matrix", "metric"]
    ma, mb = (r.metrics.sort_values(cols).reset_index(drop=True) for r in (ra, rb))
    assert ma[cols].equals(mb[cols]) and np.array_equal(ma["value"], mb["value"])
    for name in ra.matrices:
        assert np.array_equal(ra.singular_values(name)[1], rb.singular_values(name)[1])
        assert np.array_equal(ra.agreement(name)[1], rb.agreement(name)[1])


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_a_hub_series_on_workers_is_the_one_process_run(server, tmp_path, backend, request):
    """Each worker fetches its own revision (from the Hub the driver resolved, whatever its
    environment), the first one planned here; nothing is left on disk."""
    if backend == "ray":
        request.getfixturevalue("ray_instance")
    spec = f"hf:{REPO}@step1000:step3000:1000"
    argv = ["analyze", spec, "--top-k", "4", "--metrics", "all"]
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    out = tmp_path / "many"
    assert main([*argv, "--out", str(out), "--backend", backend, "--workers", "2"]) == 0
    _same_run(out, tmp_path / "one")
    assert _scratch_folders(tmp_path) == [] and not (out / ".parts").exists()
    assert not (tmp_path / "user-cache").exists()


def test_a_revision_of_another_architecture_on_workers_is_one_line(server, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["analyze", "hf:tiny/grown@step1000,step2000", "--out", str(out)]
    assert main([*argv, "--backend", "local", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoints differ in architecture" in err, err
    assert "hf:tiny/grown@step2000" in err
    assert list(open_run(out).steps) == [1000]  # what came before it is kept
