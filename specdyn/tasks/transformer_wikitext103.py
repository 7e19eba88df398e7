"""Language modelling: a Pythia-160M-like Transformer on WikiText-103 (paper Appendix A.4).

12 pre-LN layers, d_model 768, 12 heads, ReLU MLP 768, sinusoidal positions, untied
embeddings; contexts of 2,048 tokens, batch 256, AdamW lr 6e-4, betas (0.9, 0.95), weight
decay 0.1, gradient clipping at 1.0, 200 warmup steps then cosine decay to 10% (10 epochs,
as in the authors' runs). Text is lower-cased with non-alphanumerics removed, as the
authors did; the tokenizer is GPT-NeoX's when ``data_dir`` holds its ``tokenizer.json``,
otherwise a byte-level BPE trained on the training text.

"error" is the next-token error rate (1 - accuracy) over every position of a fixed set of
contexts. ``micro_batch`` splits a batch into equal parts whose gradients are computed one
after the other (see :class:`AccumulatedLoss`): the same gradient as the whole batch at
once, in the memory of one part.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from specdyn.config.schema import OptimConfig, RecordConfig, RunConfig, TrainConfig
from specdyn.data import (
    chunks,
    clean_text,
    dataset_root,
    load_tokenizer,
    read_wikitext,
    sotu_texts,
    tokenize_to_array,
    train_bpe,
)
from specdyn.errors import ConfigError
from specdyn.models.transformer_lm import TransformerLM, TransformerLMConfig, alignment_pairs
from specdyn.store.atomic import write_atomic
from specdyn.tasks.base import Experiment, Task
from specdyn.tasks.batches import batch_indices

CACHE = Path.home() / ".cache" / "specdyn"
TRAIN_CHUNKS = 57_000  # WikiText-103 train in 2,049-token contexts (the authors' count)


@dataclass(frozen=True)
class TextData:
    """source: "real" (WikiText-103 raw), "standin" (State of the Union) or "synthetic".

    batch_size: contexts per step; micro_batch: contexts per forward/backward pass (0: the
    whole batch). eval_chunks: contexts evaluated per split (0: all validation contexts,
    and as many training ones). train_speeches: the stand-in's first n training speeches
    (0: all); every 10th speech is validation. Mixed precision is ``train.bf16``.
    """

    source: str = "real"
    data_dir: str = ""
    batch_size: int = 256
    micro_batch: int = 0
    eval_chunks: int = 0
    train_speeches: int = 0


def load_texts(data: TextData) -> tuple[dict[str, str], Path | None, str]:
    """Cleaned train/val text, a GPT-NeoX tokenizer.json if there is one, and the words."""
    if data.source == "standin":
        speeches = sotu_texts()
        train = [t for i, t in enumerate(speeches) if i % 10 != 9]
        train = train[: data.train_speeches or None]
        val = [t for i, t in enumerate(speeches) if i % 10 == 9]
        texts = {"train": "\n".join(train), "val": "\n".join(val)}
        what = f"State of the Union speeches for WikiText-103, {len(train)} train / {len(val)} val"
        return {k: clean_text(v) for k, v in texts.items()}, None, what
    if data.source != "real":
        raise ConfigError(f"unknown data source '{data.source}'; known: real, standin, synthetic")
    root = dataset_root("wikitext-103", data.data_dir, CACHE / "wikitext-103", _has_wikitext)
    texts = read_wikitext(root, ("train", "valid"))
    neox = root / "tokenizer.json"
    cleaned = {"train": clean_text(texts["train"]), "val": clean_text(texts["valid"])}
    return cleaned, neox if neox.is_file() else None, f"WikiText-103 raw from {root}"


def _has_wikitext(root: Path) -> bool:
    return (root / "wikitext-103-raw" / "wiki.train.raw").is_file()


def load_tokens(data: TextData, vocab_size: int) -> tuple[dict[str, np.ndarray], str]:
    """Token ids of each split (n,), cached under ~/.cache/specdyn/tokens; and the words."""
    texts, neox, what = load_texts(data)
    key = _digest([str(neox), str(vocab_size), texts["train"], texts["val"]])
    folder = CACHE / "tokens" / key
    arrays = {split: folder / f"{split}.npy" for split in texts}
    if neox is not None:
        tokenizer, how = load_tokenizer(neox), f"GPT-NeoX tokenizer {neox}"
    elif (folder / "bpe.json").is_file():
        tokenizer, how = load_tokenizer(folder / "bpe.json"), f"BPE {folder / 'bpe.json'}"
    else:
        tokenizer = train_bpe([texts["train"]], vocab_size, folder / "bpe.json")
        how = f"BPE trained on the training text, {folder / 'bpe.json'}"
    if tokenizer.get_vocab_size() > vocab_size:
        raise ConfigError(f"tokenizer has {tokenizer.get_vocab_size()} tokens > {vocab_size}")
    tokens = {}
    for split, path in arrays.items():
        if not path.is_file():
            ids = tokenize_to_array(texts[split], tokenizer)
            write_atomic(path, lambda tmp, ids=ids: _save(tmp, ids))
        tokens[split] = np.load(path)
    sizes = ", ".join(f"{len(t):,} {s} tokens" for s, t in tokens.items())
    return tokens, f"{what}, lower-cased alphanumerics; {how}; {sizes}"


def _save(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array)
    path.write_bytes(buffer.getvalue())


def _digest(parts: list[str]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def contexts(data: TextData, cfg: TransformerLMConfig) -> tuple[dict[str, Tensor], str]:
    """Contexts of ``context + 1`` tokens per split: int64 (n, context + 1)."""
    if data.source == "synthetic":
        g = torch.Generator().manual_seed(0)
        shape = {"train": (64, cfg.context + 1), "val": (16, cfg.context + 1)}
        out = {s: torch.randint(0, cfg.vocab_size, n, generator=g) for s, n in shape.items()}
        return out, "random tokens, 64 train / 16 val contexts (generated)"
    tokens, what = load_tokens(data, cfg.vocab_size)
    out = {s: torch.from_numpy(chunks(t, cfg.context).astype(np.int64)) for s, t in tokens.items()}
    return out, f"{what}; {len(out['train']):,} / {len(out['val']):,} contexts of {cfg.context}"


class AccumulatedLoss(torch.autograd.Function):
    """Gradient accumulation behind one loss tensor.

    forward computes ``loss_fn(part)`` for each part and, at once, its gradients with
    respect to ``params``, keeping only their running mean; backward hands that mean back
    (times the incoming gradient). ``loss.backward()`` on the result then fills ``.grad``
    exactly as a single pass over the whole batch would, with the activations of one part
    alive at a time.
    """

    @staticmethod
    def forward(ctx, loss_fn: Callable[[Any], Tensor], parts: list, *params: Tensor) -> Tensor:
        total = torch.zeros((), device=params[0].device)
        grads = [torch.zeros_like(p) for p in params]
        for part in parts:
            with torch.enable_grad():
                loss = loss_fn(part) / len(parts)
                part_grads = torch.autograd.grad(loss, params, allow_unused=True)
            total += loss.detach()
            for g, pg in zip(grads, part_grads, strict=True):
                if pg is not None:
                    g += pg
        ctx.grads = grads
        return total

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        return (None, None, *(grad_output * g for g in ctx.grads))


def next_token_loss(model: nn.Module, batch: Tensor) -> Tensor:
    """Mean cross-entropy of the next token: batch (B, context + 1) -> scalar."""
    logits = model(batch[:, :-1])  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten())


@torch.no_grad()
def evaluate_lm(model: nn.Module, data: Tensor, micro: int) -> dict[str, float]:
    """Mean loss and next-token error rate over every position of ``data`` (n, T + 1)."""
    device = next(model.parameters()).device
    loss, wrong = 0.0, 0
    for start in range(0, len(data), micro):
        batch = data[start : start + micro].to(device)
        logits = model(batch[:, :-1]).float()  # (b, T, V)
        targets = batch[:, 1:]
        loss += F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum").item()
        wrong += (logits.argmax(-1) != targets).sum().item()
    n = data[:, 1:].numel()
    return {"loss": loss / n, "error": wrong / n}


def figure_names(cfg: TransformerLMConfig) -> tuple[str, str]:
    """The paper's choices (W1 of the 8th of 12 layers; W1 -> W2) at the same relative depth."""
    mlp = f"blocks.{max(round(cfg.n_layers * 8 / 12) - 1, 0)}.mlp"
    return f"{mlp}.fc_in", f"{mlp}.fc_in->{mlp}.fc_out"


def build(cfg: RunConfig, device: torch.device) -> Experiment:
    data = cfg.data
    micro = data.micro_batch or data.batch_size
    if data.batch_size % micro:
        raise ConfigError(f"batch_size {data.batch_size} is not a multiple of micro_batch {micro}")
    splits, source = contexts(data, cfg.model)
    torch.manual_seed(cfg.seed)
    model = TransformerLM(cfg.model).to(device)
    train = splits["train"]
    n_eval = data.eval_chunks or len(splits["val"])
    fixed = torch.Generator().manual_seed(0)
    evals = {
        "train": train[torch.randperm(len(train), generator=fixed)[:n_eval]],
        "val": splits["val"][torch.randperm(len(splits["val"]), generator=fixed)[:n_eval]],
    }

    def part_loss(part: Tensor) -> Tensor:
        return next_token_loss(model, part.to(device))

    def loss(model: nn.Module, step: int) -> Tensor:
        batch = train[batch_indices(len(train), data.batch_size, step, cfg.order_seed)]
        if micro == data.batch_size:
            return part_loss(batch)
        params = [p for p in model.parameters() if p.requires_grad]
        return AccumulatedLoss.apply(part_loss, list(batch.split(micro)), *params)

    def evaluate(model: nn.Module) -> dict[str, dict[str, float]]:
        return {split: evaluate_lm(model, x, micro) for split, x in evals.items()}

    matrix, pair = figure_names(cfg.model)
    return Experiment(
        model, loss, evaluate, alignment_pairs(cfg.model), source,
        figure_matrix=matrix, figure_pair=pair, heads=True, error_label="next-token error",
    )  # fmt: skip


def _preset(
    name: str, model: TransformerLMConfig, data: TextData, steps: int, every: int,
    lr: float = 6e-4, warmup: int = 200, top_k: int = 64, bf16: bool = False,
) -> RunConfig:  # fmt: skip
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
PRESETS = {"paper": _preset("paper", TransformerLMConfig(), PAPER_DATA, 2220, 11, bf16=True)}
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

TASK = Task(
    name="transformer-wikitext103",
    description="Pythia-like Transformer LM on WikiText-103 (Appendix A.4), next-token error",
    presets=PRESETS,
    default_preset="cpu",
    build=build,
)
