"""The lstm-librispeech task: CTC batches, CER/WER evaluation, presets, tiny run end to end."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import file_times

from specdyn import open_run
from specdyn.config import to_dict
from specdyn.data import VOCAB_SIZE, DataError, encode_text, speech
from specdyn.errors import ConfigError
from specdyn.figures import figure_choices, plot_run
from specdyn.figures.panels import heatmap_rows
from specdyn.models import lstm
from specdyn.tasks import lstm_librispeech as task
from specdyn.train import train

CPU = torch.device("cpu")


def test_tiny_preset_end_to_end(tmp_path, tiny_task_run):
    cfg = task.PRESETS["tiny"]
    run = open_run(tiny_task_run("lstm-librispeech"))
    assert run.steps.tolist() == [0, 4, 8, 12]
    history = run.history
    assert set(history["split"]) == {"train", "val"}
    assert {"loss", "error", "wer"} <= set(history.columns)
    assert history[["loss", "error", "wer"]].notna().all().all()
    assert {p.name for p in lstm.alignment_pairs(cfg.model)} == set(run.pairs)
    assert "lstm.weight_ih_l1.g" in run.matrices and "fc" in run.matrices
    figures = figure_choices(run.config)
    assert figures == {
        "matrix": "lstm.weight_ih_l0.g",
        "pair": "lstm.weight_ih_l0.g->lstm.weight_ih_l1.g",
        "rows": r"\.g$|^fc$",
        "error_label": "CER",
    }
    rows = heatmap_rows(run)  # the g gates by depth, then fc; not the other gates
    assert rows[-1] == "fc" and len(rows) == 2 * 2 * 2 + 1
    assert all(r.endswith(".g") for r in rows[:-1])
    assert "random features" in run.config["data_source"]

    before = file_times(run.path)
    train(cfg, run.path, CPU, progress=False)  # finished: a rerun changes nothing
    assert before == file_times(run.path)
    assert all(p.stat().st_size > 0 for p in plot_run(run, tmp_path / "figures"))


def test_a_perfect_model_has_zero_cer_and_wer():
    """Log-probs that spell each transcript (blanks between letters) decode exactly."""
    texts = ["the cat", "a dog's bone"]
    labels = [encode_text(t) for t in texts]

    class Speller(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, lengths):  # x (B, T, 1) holds the id of each frame
            ids = x[..., 0].long()  # (B, T)
            scores = 30.0 * torch.nn.functional.one_hot(ids, VOCAB_SIZE)  # (B, T, V)
            return torch.log_softmax(scores, -1).transpose(0, 1)  # (T, B, V)

    feats = []
    for y in labels:  # frames: id, blank, id, blank, ...
        frames = torch.stack([y, torch.zeros_like(y)], 1).flatten().float()
        feats.append(frames[:, None])
    result = task.evaluate_speech(Speller(), (feats, labels), batch_size=1)
    assert result["error"] == 0.0 and result["wer"] == 0.0 and result["loss"] < 1.0


def test_collate_pads_and_concatenates():
    feats = [torch.ones(3, 2), torch.ones(5, 2)]
    labels = [torch.tensor([2, 3]), torch.tensor([4])]
    x, frames, y, y_len = speech.collate(feats, labels)
    assert x.shape == (2, 5, 2) and x[0, 3:].abs().sum() == 0
    assert frames.tolist() == [3, 5] and y.tolist() == [2, 3, 4] and y_len.tolist() == [2, 1]


def _figure_names(model: lstm.LSTMConfig) -> tuple[str, str]:
    choices = figure_choices(to_dict(dataclasses.replace(task.PRESETS["paper"], model=model)))
    return choices["matrix"], choices["pair"]


def test_figure_names_follow_the_paper_at_depth_four():
    paper = ("lstm.weight_ih_l2.g", "lstm.weight_ih_l2.g->lstm.weight_ih_l3.g")
    assert _figure_names(lstm.LSTMConfig()) == paper
    one = lstm.LSTMConfig(n_layers=1)
    assert _figure_names(one) == ("lstm.weight_ih_l0.g", "lstm.weight_ih_l0.g->fc")


def test_paper_preset_is_appendix_a3():
    cfg = task.PRESETS["paper"]
    assert (cfg.model.hidden, cfg.model.n_layers, cfg.model.vocab_size) == (256, 4, VOCAB_SIZE)
    o = cfg.optim
    assert (o.name, o.lr, o.weight_decay, o.schedule, o.final_lr_fraction, o.warmup_steps) == (
        "adamw",
        3e-4,
        0.1,
        "cosine",
        0.0,
        0,
    )
    assert (cfg.data.source, cfg.data.batch_size, cfg.data.log) == ("real", 32, True)
    assert lstm.LSTMConfig().vocab_size == VOCAB_SIZE
    assert cfg.train.steps == 50 * (28_539 // 32)
    assert task.TASK.default_preset == "cpu" and task.PRESETS["cpu"].data.source == "standin"


def test_bad_configs_are_refused(tmp_path):
    cfg = task.PRESETS["tiny"]
    wrong_vocab = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, vocab_size=29))
    with pytest.raises(ConfigError, match="vocab_size"):
        task.build(wrong_vocab, CPU)
    unknown = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="mp3"))
    with pytest.raises(ConfigError, match="unknown data source 'mp3'"):
        task.build(unknown, CPU)
    missing = dataclasses.replace(
        cfg, data=dataclasses.replace(cfg.data, source="real", data_dir=str(tmp_path))
    )
    with pytest.raises(DataError, match="train-clean-100"):
        task.build(missing, CPU)
