"""The grokking task: modular-addition data, its split, presets, and the tiny run end to end."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import file_times

from specdyn import open_run
from specdyn.config import apply_overrides
from specdyn.data.configs import GrokkingData
from specdyn.data.modular import modular_addition
from specdyn.errors import ConfigError
from specdyn.figures import figure_choices, plot_run
from specdyn.models.grokking import GrokkingModel, alignment_pairs
from specdyn.tasks import grokking as task
from specdyn.train import train

CPU = torch.device("cpu")


def test_tiny_preset_end_to_end(tmp_path, tiny_task_run):
    run = open_run(tiny_task_run("grokking"))
    assert run.steps.tolist() == [0, 5, 10, 15, 20]
    assert set(run.history["split"]) == {"train", "val"}
    assert {p.name for p in alignment_pairs()} == set(run.pairs)
    assert run.config["data_source"] == "modular addition mod 7, 50% train (generated)"
    assert figure_choices(run.config)["matrix"] == "attn.in_proj_weight"
    assert figure_choices(run.config)["pair"] == "embed->attn.in_proj_weight"
    ranks = run.metrics.query("metric == 'normalized_effective_rank'")["value"]
    assert ranks.between(0, 1).all() and len(ranks) == 5 * len(run.matrices)

    before = file_times(run.path)
    train(task.PRESETS["tiny"], run.path, CPU, progress=False)  # finished: nothing changes
    assert before == file_times(run.path)
    assert all(p.stat().st_size > 0 for p in plot_run(run, tmp_path / "figures"))


def test_modular_addition_covers_every_pair_once():
    splits = modular_addition(7, 0.5, seed=0)
    tokens = torch.cat([splits["train"][0], splits["val"][0]])
    labels = torch.cat([splits["train"][1], splits["val"][1]])
    assert len(splits["train"][0]) == round(0.5 * 49) and len(tokens) == 49
    assert len({tuple(t) for t in tokens.tolist()}) == 49  # no pair twice
    assert (tokens[:, 2] == 7).all()  # the "=" token
    assert torch.equal(labels, (tokens[:, 0] + tokens[:, 1]) % 7)


def test_the_split_follows_the_seed():
    a, b, c = (modular_addition(11, 0.3, seed) for seed in (0, 0, 1))
    assert torch.equal(a["train"][0], b["train"][0])
    assert not torch.equal(a["train"][0], c["train"][0])
    cfg = task.PRESETS["tiny"]
    x0 = task.build(cfg, CPU)
    x1 = task.build(apply_overrides(cfg, ["seed=1"]), CPU)
    p0, p1 = (dict(e.model.named_parameters())["embed.weight"] for e in (x0, x1))
    assert not torch.equal(p0, p1)  # and the initialisation


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_a_train_fraction_outside_zero_one_is_a_config_error(fraction):
    cfg = task.PRESETS["tiny"]
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, train_fraction=fraction))
    with pytest.raises(ConfigError, match="train_fraction"):
        task.build(cfg, CPU)


def test_paper_presets_are_appendix_a6():
    grok, nowd = task.PRESETS["paper-grok"], task.PRESETS["paper-nowd"]
    assert grok.data == GrokkingData(modulus=113, train_fraction=0.3)
    assert grok.model == GrokkingModel(d_model=128, n_heads=4, d_mlp=512, layer_norm=False)
    o = grok.optim
    assert (o.name, o.lr, o.betas, o.weight_decay, o.schedule) == (
        "adamw",
        1e-3,
        (0.9, 0.98),
        1.0,
        "constant",
    )
    assert nowd.optim.weight_decay == 0.0 and grok.train.steps == 40_000
    sling = task.PRESETS["paper-slingshot"]
    assert (sling.data.modulus, sling.data.train_fraction, sling.model.layer_norm) == (
        97,
        0.7,
        True,
    )
    assert task.TASK.default_preset == "cpu"


def test_per_head_query_key_alignment_as_the_authors_compute_it(tmp_path):
    """record.heads=true adds the authors' qk_align: W_Q and W_K split into heads, each
    head's |U_q^T U_k| diagonal, averaged over heads; its score the mean of the top-k."""
    cfg = apply_overrides(task.PRESETS["tiny"], ["record.heads=true", "steps=5"])
    run = open_run(train(cfg, tmp_path / "run", CPU, progress=False))
    assert "attn.q<->k" in run.pairs
    W = run.checkpoint(5)["attn.in_proj_weight"].double()  # (3d, d): q, k, v stacked
    d, n_heads = W.shape[1], cfg.model.n_heads
    d_head, k = d // n_heads, cfg.record.top_k
    diagonals = []
    for h in range(n_heads):
        rows = slice(h * d_head, (h + 1) * d_head)
        U_q = torch.linalg.svd(W[:d][rows], full_matrices=False)[0][:, :k]
        U_k = torch.linalg.svd(W[d : 2 * d][rows], full_matrices=False)[0][:, :k]
        diagonals.append((U_q.T @ U_k).diagonal().abs())
    want = torch.stack(diagonals).mean(0)  # (k',)
    steps, got = run.alignment("attn.q<->k")
    assert torch.allclose(torch.from_numpy(got[-1]).double(), want, atol=1e-4)
    score = run.metric_values("alignment")["attn.q<->k"]
    assert score == pytest.approx(float(want[:10].mean()), abs=1e-4)
