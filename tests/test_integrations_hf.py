"""SpectralCallback in a real transformers.Trainer: a tiny GPT-2 trained on local text; its
run folder matches ``specdyn analyze`` of the Trainer's own checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from specdyn.checkpoints.analyze import AnalyzeOptions, analyze  # noqa: E402
from specdyn.integrations.huggingface import SpectralCallback  # noqa: E402
from specdyn.store.reader import open_run  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"


class _Text(torch.utils.data.Dataset):
    """Characters of the project's README as token ids, in blocks of 16."""

    def __init__(self) -> None:
        ids = torch.tensor([min(ord(c), 127) for c in README.read_text()[:4000]])
        self.blocks = ids[: len(ids) // 16 * 16].view(-1, 16)

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.blocks[i], "labels": self.blocks[i]}


def _train(out: Path, callback: SpectralCallback | None):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=2,
        vocab_size=128,
        n_positions=16,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = transformers.GPT2LMHeadModel(cfg)
    args = transformers.TrainingArguments(
        output_dir=str(out),
        max_steps=12,
        save_steps=4,
        save_only_model=True,
        per_device_train_batch_size=4,
        learning_rate=3e-3,
        logging_steps=4,
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    trainer = transformers.Trainer(model=model, args=args, train_dataset=_Text())
    if callback is not None:
        callback.attach(trainer)
    trainer.train()
    return trainer


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore:.*pin_memory.*:UserWarning")
def test_trainer_callback_matches_analyze_of_its_checkpoints(tmp_path):
    callback = SpectralCallback(tmp_path / "live", every=4, top_k=6, metrics="all")
    trainer = _train(tmp_path / "out", callback)
    live = open_run(tmp_path / "live")
    assert list(live.steps) == [0, 4, 8, 12]
    saved = analyze(
        [tmp_path / "out"], tmp_path / "saved", options=AnalyzeOptions(top_k=6, metrics="all")
    )
    post = open_run(saved)
    assert list(post.steps) == [4, 8, 12]
    assert (
        set(post.matrices) == set(live.matrices)
        and "transformer.h.1.attn.c_attn.v" in post.matrices
    )
    assert post.pairs == live.pairs and len(post.pairs) == 9
    for name in post.matrices:
        _, s_post = post.singular_values(name)
        _, s_live = live.singular_values(name)
        assert np.allclose(s_post, s_live[1:], atol=1e-5), name
    a, b = post.metrics, live.metrics[live.metrics["step"] > 0]
    key = ["step", "matrix", "metric"]
    both = a.merge(b, on=key, suffixes=("_post", "_live"))
    both = both[both["metric"] != "agreement"]
    assert len(both) == len(a[a["metric"] != "agreement"])
    assert np.allclose(both["value_post"], both["value_live"], rtol=1e-4, atol=1e-5)
    logged = [row for row in trainer.state.log_history if "specdyn/alpha/transformer.wte" in row]
    assert [row["step"] for row in logged] == [0, 4, 8, 12]
    losses = [row["step"] for row in trainer.state.log_history if "loss" in row]
    assert losses == [4, 8, 12]  # the Trainer's own log at a recorded step is kept


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore:.*pin_memory.*:UserWarning")
def test_trainer_callback_leaves_training_unchanged(tmp_path):
    with_cb = _train(tmp_path / "a", SpectralCallback(tmp_path / "live", every=4, top_k=4))
    without = _train(tmp_path / "b", None)
    for (name, p), (_, q) in zip(
        with_cb.model.named_parameters(), without.model.named_parameters(), strict=True
    ):
        assert torch.equal(p, q), name
