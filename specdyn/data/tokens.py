"""Language-model tokens: WikiText-103, its State of the Union stand-in, or random tokens
(paper Appendix A.4).

Text is lower-cased with non-alphanumerics removed, as the authors did; the tokenizer is
GPT-NeoX's when ``data_dir`` holds its ``tokenizer.json``, otherwise a byte-level BPE
trained on the training text. Token ids are cached under ``cache_dir("tokens", key)``,
keyed by the text and the tokenizer; contexts are int64 (n, context + 1).
"""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from specdyn.config import seeding
from specdyn.data.cache import cache_dir, dataset_root
from specdyn.data.configs import TextData
from specdyn.data.standins import sotu_texts
from specdyn.data.wikitext import (
    chunks,
    clean_text,
    load_tokenizer,
    read_wikitext,
    tokenize_to_array,
    train_bpe,
)
from specdyn.errors import ConfigError
from specdyn.store.atomic import write_atomic

TRAIN_CHUNKS = 57_000  # WikiText-103 train in 2,049-token contexts (the authors' count)
SYNTHETIC_CONTEXTS = {"train": 64, "val": 16}


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
    root = dataset_root("wikitext-103", data.data_dir, _has_wikitext)
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
    folder = cache_dir("tokens", key)
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
            write_atomic(path, functools.partial(_save, array=ids))
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


def contexts(data: TextData, vocab_size: int, context: int) -> tuple[dict[str, Tensor], str]:
    """Contexts of ``context + 1`` tokens per split: int64 (n, context + 1)."""
    if data.source == "synthetic":
        g = seeding.fixed_generator()
        shape = {s: (n, context + 1) for s, n in SYNTHETIC_CONTEXTS.items()}
        out = {s: torch.randint(0, vocab_size, n, generator=g) for s, n in shape.items()}
        return out, "random tokens, 64 train / 16 val contexts (generated)"
    tokens, what = load_tokens(data, vocab_size)
    out = {s: torch.from_numpy(chunks(t, context).astype(np.int64)) for s, t in tokens.items()}
    return out, f"{what}; {len(out['train']):,} / {len(out['val']):,} contexts of {context}"
