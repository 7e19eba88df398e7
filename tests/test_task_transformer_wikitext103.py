"""The transformer-wikitext103 task: micro-batches, next-token error, presets, tiny run."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import file_times

from specdyn import open_run
from specdyn.config import to_dict
from specdyn.data import DataError
from specdyn.errors import ConfigError
from specdyn.figures import figure_choices, plot_run
from specdyn.figures.panels import heatmap_rows
from specdyn.models import transformer_lm
from specdyn.tasks import transformer_wikitext103 as task
from specdyn.train import train

CPU = torch.device("cpu")


def _with(cfg, **data):
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, **data))


def test_tiny_preset_end_to_end(tmp_path, tiny_task_run):
    cfg = task.PRESETS["tiny"]
    run = open_run(tiny_task_run("transformer-wikitext103"))
    assert run.steps.tolist() == [0, 4, 8, 12]
    assert set(run.history["split"]) == {"train", "val"}
    assert run.history[["loss", "error"]].notna().all().all()
    assert {p.name for p in transformer_lm.alignment_pairs(cfg.model)} == set(run.pairs)
    assert "blocks.1.attn.in_proj_weight.q.h1" in run.matrices  # per-head blocks recorded
    assert figure_choices(run.config)["matrix"] == "blocks.0.mlp.fc_in"
    assert figure_choices(run.config)["pair"] == "blocks.0.mlp.fc_in->blocks.0.mlp.fc_out"
    assert "random tokens" in run.config["data_source"]
    rows = heatmap_rows(run)  # no pattern: every matrix but the per-head blocks
    assert "blocks.1.attn.in_proj_weight.q" in rows and not any(".h" in r for r in rows)

    before = file_times(run.path)
    train(cfg, run.path, CPU, progress=False)  # finished: a rerun changes nothing
    assert before == file_times(run.path)
    assert all(p.stat().st_size > 0 for p in plot_run(run, tmp_path / "figures"))


@pytest.mark.parametrize("micro", [1, 2, 4])
def test_micro_batches_give_the_whole_batch_gradient(micro):
    cfg = task.PRESETS["tiny"]
    results = []
    for m in (0, micro):
        exp = task.build(_with(cfg, micro_batch=m), CPU)
        loss = exp.loss(exp.model, 3)
        exp.model.zero_grad()
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in exp.model.parameters()]))
    (whole, whole_grads), (parts, part_grads) = results
    torch.testing.assert_close(parts, whole)
    for a, b in zip(part_grads, whole_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_next_token_error_counts_every_position():
    class Copy(torch.nn.Module):  # predicts that the next token repeats the current one
        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, tokens):
            return 50.0 * torch.nn.functional.one_hot(tokens, 5).float()

    data = torch.tensor([[1, 1, 1, 2], [3, 3, 4, 4]])  # 6 targets, 2 mispredicted
    result = task.evaluate_lm(Copy(), data, micro=1)
    assert result["error"] == pytest.approx(2 / 6)
    assert result["loss"] == pytest.approx(2 / 6 * 50.0, rel=1e-3)


def _figure_names(model: transformer_lm.TransformerLMConfig) -> tuple[str, str]:
    choices = figure_choices(to_dict(dataclasses.replace(task.PRESETS["paper"], model=model)))
    return choices["matrix"], choices["pair"]


def test_figure_names_follow_the_paper_at_depth_twelve():
    default = transformer_lm.TransformerLMConfig()
    assert _figure_names(default) == (
        "blocks.7.mlp.fc_in",
        "blocks.7.mlp.fc_in->blocks.7.mlp.fc_out",
    )
    four = dataclasses.replace(default, n_layers=4)
    assert _figure_names(four)[0] == "blocks.2.mlp.fc_in"


def test_paper_preset_is_appendix_a4():
    cfg = task.PRESETS["paper"]
    m, o = cfg.model, cfg.optim
    assert (m.n_layers, m.d_model, m.n_heads, m.d_mlp, m.context) == (12, 768, 12, 768, 2048)
    assert (o.name, o.lr, o.betas, o.weight_decay, o.grad_clip) == (
        "adamw",
        6e-4,
        (0.9, 0.95),
        0.1,
        1.0,
    )
    assert (o.schedule, o.warmup_steps, o.final_lr_fraction) == ("cosine", 200, 0.1)
    assert (cfg.data.source, cfg.data.batch_size) == ("real", 256)
    assert cfg.data.batch_size % cfg.data.micro_batch == 0
    assert cfg.train.steps == 10 * (57_000 // 256)
    assert task.TASK.default_preset == "cpu" and task.PRESETS["cpu"].data.source == "standin"


def test_bad_configs_are_refused(tmp_path):
    cfg = task.PRESETS["tiny"]
    with pytest.raises(ConfigError, match="micro_batch 3"):
        task.build(_with(cfg, micro_batch=3), CPU)
    with pytest.raises(ConfigError, match="unknown data source 'books'"):
        task.build(_with(cfg, source="books"), CPU)
    with pytest.raises(DataError, match="wiki.train.raw"):
        task.build(_with(cfg, source="real", data_dir=str(tmp_path)), CPU)
