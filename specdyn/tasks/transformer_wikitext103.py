"""Language modelling: a Pythia-160M-like Transformer on WikiText-103 (paper Appendix A.4).

12 pre-LN layers, d_model 768, 12 heads, ReLU MLP 768, sinusoidal positions, untied
embeddings; contexts of 2,048 tokens, batch 256, AdamW lr 6e-4, betas (0.9, 0.95), weight
decay 0.1, gradient clipping at 1.0, 200 warmup steps then cosine decay to 10% (10 epochs,
as in the authors' runs). The text and its tokens come from :mod:`specdyn.data.tokens`.

"error" is the next-token error rate (1 - accuracy) over every position of a fixed set of
contexts. ``micro_batch`` splits a batch into equal parts whose gradients are computed one
after the other (:class:`specdyn.models.accumulate.AccumulatedLoss`): the same gradient as
the whole batch at once, in the memory of one part.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from specdyn.config.schema import OptimConfig, RecordConfig, RunConfig, TrainConfig
from specdyn.data.configs import TextData
from specdyn.errors import ConfigError
from specdyn.models.configs import TransformerLMConfig
from specdyn.tasks.base import ConfigDict, Evaluation, Experiment, FigureChoices, Task, rescheduled

if TYPE_CHECKING:  # torch is imported where a run starts: the presets need none
    import torch
    from torch import Tensor, nn

Config = RunConfig[TransformerLMConfig, TextData]


def next_token_loss(model: nn.Module, batch: Tensor) -> Tensor:
    """Mean cross-entropy of the next token: batch (B, context + 1) -> scalar."""
    import torch.nn.functional as F

    logits = model(batch[:, :-1])  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten())


def evaluate_lm(model: nn.Module, data: Tensor, micro: int) -> dict[str, float]:
    """Mean loss and next-token error rate over every position of ``data`` (n, T + 1)."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    loss, wrong = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data), micro):
            batch = data[start : start + micro].to(device)
            logits = model(batch[:, :-1]).float()  # (b, T, V)
            targets = batch[:, 1:]
            loss += F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum").item()
            wrong += (logits.argmax(-1) != targets).sum().item()
    n = data[:, 1:].numel()
    return {"loss": loss / n, "error": wrong / n}


def build(cfg: Config, device: torch.device) -> Experiment:
    import torch

    from specdyn.config import seeding
    from specdyn.data.batches import batch_indices
    from specdyn.data.tokens import contexts
    from specdyn.models.accumulate import AccumulatedLoss
    from specdyn.models.transformer_lm import TransformerLM, alignment_pairs

    data = cfg.data
    micro = data.micro_batch or data.batch_size
    if data.batch_size % micro:
        raise ConfigError(f"batch_size {data.batch_size} is not a multiple of micro_batch {micro}")
    splits, source = contexts(data, cfg.model.vocab_size, cfg.model.context)
    seeding.seed_initialisation(cfg.seed)
    model = TransformerLM(cfg.model).to(device)
    train = splits["train"]
    n_eval = data.eval_chunks or len(splits["val"])
    fixed = seeding.fixed_generator()
    evals = {
        "train": train[torch.randperm(len(train), generator=fixed)[:n_eval]],
        "val": splits["val"][torch.randperm(len(splits["val"]), generator=fixed)[:n_eval]],
    }

    def loss(model: nn.Module, step: int) -> Tensor:
        batch = train[batch_indices(len(train), data.batch_size, step, cfg.order_seed)]

        def part_loss(part: Tensor) -> Tensor:
            return next_token_loss(model, part.to(device))

        if micro == data.batch_size:
            return part_loss(batch)
        params = [p for p in model.parameters() if p.requires_grad]
        return AccumulatedLoss.apply(part_loss, list(batch.split(micro)), *params)

    def evaluate(model: nn.Module) -> Evaluation:
        return {split: evaluate_lm(model, x, micro) for split, x in evals.items()}

    return Experiment(model, loss, evaluate, alignment_pairs(cfg.model), source, heads=True)


def _preset(
    name: str, model: TransformerLMConfig, data: TextData, steps: int, every: int,
    lr: float = 6e-4, warmup: int = 200, top_k: int = 64, bf16: bool = False,
) -> Config:  # fmt: skip
    optim = OptimConfig(
        lr=lr, betas=(0.9, 0.95), weight_decay=0.1, schedule="cosine", warmup_steps=warmup,
        final_lr_fraction=0.1, grad_clip=1.0,
    )  # fmt: skip
    train = TrainConfig(steps=steps, eval_every=every, state_every=10 * every, bf16=bf16)
    record = RecordConfig(every=every, top_k=top_k, vector_dtype="float16")
    return RunConfig("transformer-wikitext103", name, model, data, optim, train, record)


# Appendix A.4: 10 epochs of 57,000 contexts at batch 256 (222 steps each) = 2,220 steps,
# recorded every 11 steps; micro-batches of 16 contexts, bfloat16 autocast.
PAPER_DATA = TextData(micro_batch=16)
PRESETS: dict[str, Config] = {
    "paper": _preset("paper", TransformerLMConfig(), PAPER_DATA, 2220, 11, bf16=True)
}
# cpu: 4 layers of width 128 on State of the Union text with a 2,048-token BPE.
CPU_MODEL = TransformerLMConfig(
    vocab_size=2048, context=128, n_layers=4, d_model=128, n_heads=4, d_mlp=128
)
CPU_DATA = TextData(source="standin", batch_size=16, eval_chunks=64)
PRESETS["cpu"] = _preset("cpu", CPU_MODEL, CPU_DATA, 1500, 25, lr=3e-3, warmup=100)
# tiny: seconds, random tokens, for tests.
TINY_MODEL = TransformerLMConfig(
    vocab_size=64, context=16, n_layers=2, d_model=16, n_heads=2, d_mlp=16
)
TINY_DATA = TextData(source="synthetic", batch_size=8, micro_batch=4, eval_chunks=8)
PRESETS["tiny"] = _preset("tiny", TINY_MODEL, TINY_DATA, 12, 4, lr=1e-3, warmup=2, top_k=8)


def _figure_mlp(config: ConfigDict) -> str:
    """The MLP of the 8th of 12 layers (Fig. 3), at the same relative depth."""
    n_layers = int(config["model"]["n_layers"])
    return f"blocks.{max(round(n_layers * 8 / 12) - 1, 0)}.mlp"


def _cpu_scale(cfg: RunConfig) -> RunConfig:
    cfg = rescheduled(cfg, 350, every=25, eval_every=25, state_every=50)
    return dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, warmup_steps=50))


TASK = Task(
    name="transformer-wikitext103",
    description="Pythia-like Transformer LM on WikiText-103 (Appendix A.4), next-token error",
    presets=PRESETS,
    default_preset="cpu",
    build=build,
    # W1 of the 8th of 12 layers; W1 -> W2.
    figures=FigureChoices(
        lambda c: f"{_figure_mlp(c)}.fc_in",
        lambda c: f"{_figure_mlp(c)}.fc_in->{_figure_mlp(c)}.fc_out",
        error_label="next-token error",
    ),
    perturb_excluded=("embed",),  # Appendix A.10: nor the input embedding
    paper_figures=("3", "5", "6", "7", "9", "14"),
    # 1,500 -> 350 steps, warmup 100 -> 50
    cpu_scale=_cpu_scale,
)
