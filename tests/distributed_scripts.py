"""Framework trainings that tests run under ``torchrun --nproc_per_node 2`` (gloo, CPU).

    python -m torch.distributed.run --standalone --nproc_per_node 2 \\
        tests/distributed_scripts.py {plain,lightning,huggingface} OUT

Each trains the same model twice, recording into the run folder ``OUT/live`` (a Recorder
in a plain DDP loop, or the framework's SpectralCallback) and not, and rank 0 saves both
final state dicts (``OUT/recorded.safetensors``, ``OUT/bare.safetensors``) for the test to
compare.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

STEPS, EVERY, TOP_K = 8, 4, 5


def plain_ddp(out: Path) -> None:
    """A plain loop as the docs show it: every rank creates the Recorder (here before the
    process group starts: torchrun's RANK says who writes) and steps it."""
    from specdyn import Pair, Recorder, Schedule

    def train(recorder: Recorder | None) -> nn.Module:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 24), nn.ReLU(), nn.Linear(24, 16), nn.Linear(16, 1))
        ddp = nn.parallel.DistributedDataParallel(model)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=0.05)
        data = torch.Generator().manual_seed(torch.distributed.get_rank())
        for step in range(STEPS + 1):
            if recorder is not None:
                recorder.step(step, ddp)
            if step == STEPS:
                break
            x = torch.randn(8, 8, generator=data)
            loss = nn.functional.mse_loss(ddp(x), x[:, :1])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if recorder is not None:
            recorder.finish()
        return model

    recorder = Recorder(out / "live", Schedule(every=EVERY, last=STEPS), [Pair("0", "2")], TOP_K)
    torch.distributed.init_process_group("gloo")
    recorded, bare = train(recorder), train(None)
    if torch.distributed.get_rank() == 0:
        named = {f"net.{k}": v for k, v in recorded.state_dict().items()}
        _save(out, named, {f"net.{k}": v for k, v in bare.state_dict().items()})
    torch.distributed.barrier()  # rank 1 must not tear gloo down while rank 0 still saves
    torch.distributed.destroy_process_group()


def lightning_ddp(out: Path) -> None:
    import lightning

    from specdyn.integrations.lightning import SpectralCallback

    class Regressor(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(8, 24), nn.ReLU(), nn.Linear(24, 16), nn.Linear(16, 1)
            )

        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.mse_loss(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    def fit(callbacks: list) -> tuple[Regressor, lightning.Trainer]:
        lightning.seed_everything(0, verbose=False)
        x = torch.randn(128, 8)
        data = torch.utils.data.TensorDataset(x, x[:, :1] * 2 - x[:, 1:2])
        module = Regressor()
        trainer = lightning.Trainer(
            default_root_dir=out,
            max_steps=STEPS,
            accelerator="cpu",
            devices=2,
            strategy="ddp",
            callbacks=callbacks,
            logger=lightning.pytorch.loggers.CSVLogger(out / "logs"),
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
        )
        trainer.fit(module, torch.utils.data.DataLoader(data, batch_size=8))
        return module, trainer

    recorded, trainer = fit([SpectralCallback(out / "live", every=EVERY, top_k=TOP_K)])
    bare, _ = fit([])
    if trainer.is_global_zero:
        _save(out, recorded.state_dict(), bare.state_dict())


def gpt2(transformers):  # the test's tiny GPT-2, seeded
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
    return transformers.GPT2LMHeadModel(cfg)


class Tokens(torch.utils.data.Dataset):
    def __init__(self) -> None:
        self.blocks = torch.randint(0, 128, (64, 16), generator=torch.Generator().manual_seed(1))

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.blocks[i], "labels": self.blocks[i]}


def huggingface_ddp(out: Path) -> None:
    import transformers

    from specdyn.integrations.huggingface import SpectralCallback

    def train(callback: SpectralCallback | None):
        args = transformers.TrainingArguments(
            output_dir=str(out / "trainer"),
            max_steps=STEPS,
            per_device_train_batch_size=4,
            learning_rate=3e-3,
            logging_steps=EVERY,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            ddp_backend="gloo",
            disable_tqdm=True,
            seed=0,
        )
        trainer = transformers.Trainer(model=gpt2(transformers), args=args, train_dataset=Tokens())
        if callback is not None:
            callback.attach(trainer)
        trainer.train()
        return trainer

    recorded = train(SpectralCallback(out / "live", every=EVERY, top_k=TOP_K))
    bare = train(None)
    assert recorded.args.world_size == 2
    if recorded.is_world_process_zero():
        logged = [
            r
            for r in recorded.state.log_history
            if "specdyn/stable_rank/transformer.h.0.mlp.c_fc" in r
        ]
        assert len(logged) == STEPS // EVERY + 1, recorded.state.log_history
        _save(out, recorded.model.state_dict(), bare.model.state_dict())


def _save(out: Path, recorded: dict, bare: dict) -> None:
    save_file({k: v.clone() for k, v in recorded.items()}, out / "recorded.safetensors")
    save_file({k: v.clone() for k, v in bare.items()}, out / "bare.safetensors")


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    scripts = {"plain": plain_ddp, "lightning": lightning_ddp, "huggingface": huggingface_ddp}
    scripts[sys.argv[1]](Path(sys.argv[2]))
    # Lightning and the Trainer leave their process group alive; gloo's threads torn down by
    # the interpreter's exit then abort a rank now and then ("terminate called without an
    # active exception"). Ending the group on every rank together exits cleanly.
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
