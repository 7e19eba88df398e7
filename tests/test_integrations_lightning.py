"""SpectralCallback in a real Lightning Trainer: its run folder matches ``specdyn analyze`` of
the .ckpt files ModelCheckpoint saved, its metrics reach the logger, training is unchanged."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from torch import nn

lightning = pytest.importorskip("lightning")

from specdyn.checkpoints.analyze import AnalyzeOptions, analyze  # noqa: E402
from specdyn.integrations.lightning import SpectralCallback  # noqa: E402
from specdyn.store.reader import open_run  # noqa: E402


class _Regressor(lightning.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 24), nn.ReLU(), nn.Linear(24, 16), nn.Linear(16, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def _fit(root, callbacks) -> _Regressor:
    lightning.seed_everything(0, verbose=False)
    x = torch.randn(96, 8)
    data = torch.utils.data.TensorDataset(x, x[:, :1] * 2 - x[:, 1:2])
    module = _Regressor()
    trainer = lightning.Trainer(
        default_root_dir=root,
        max_steps=12,
        accelerator="cpu",
        devices=1,
        callbacks=callbacks,
        logger=lightning.pytorch.loggers.CSVLogger(root),
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=any(
            isinstance(c, lightning.pytorch.callbacks.ModelCheckpoint) for c in callbacks
        ),
    )
    trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=8))
    return module


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_lightning_callback_matches_analyze_and_logs(tmp_path):
    saver = lightning.pytorch.callbacks.ModelCheckpoint(
        dirpath=tmp_path / "ckpts", every_n_train_steps=4, save_top_k=-1, save_weights_only=True
    )
    live_cb = SpectralCallback(tmp_path / "live", every=4, top_k=5)
    trained = _fit(tmp_path, [live_cb, saver])
    live = open_run(tmp_path / "live")
    assert list(live.steps) == [0, 4, 8, 12]
    post = open_run(analyze([tmp_path / "ckpts"], tmp_path / "saved", options=AnalyzeOptions(5)))
    assert list(post.steps) == [4, 8, 12]
    assert post.matrices == live.matrices == ["net.0", "net.2", "net.3"]
    assert post.pairs == live.pairs == ["net.0->net.2", "net.2->net.3"]
    for name in post.matrices:
        assert np.allclose(post.singular_values(name)[1], live.singular_values(name)[1][1:])
    logged = list(csv.DictReader(open(next(tmp_path.glob("lightning_logs/*/metrics.csv")))))
    steps = [int(r["step"]) for r in logged if r.get("specdyn/stable_rank/net.2")]
    assert steps == [0, 4, 8, 12]
    untouched = _fit(tmp_path / "bare", [])
    for p, q in zip(trained.parameters(), untouched.parameters(), strict=True):
        assert torch.equal(p, q)
