"""WikiText-103 (raw) text, a byte-level BPE tokenizer, and fixed-length contexts.

The archive unpacks to ``wikitext-103-raw/wiki.{train,valid,test}.raw``. Tokenizing needs
the optional ``tokenizers`` package (``pip install "specdyn[lm]"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from specdyn.data.errors import DataError
from specdyn.store.atomic import write_atomic

SPLITS = ("train", "valid", "test")
END_OF_TEXT = "<|endoftext|>"
_BATCH_LINES = 10_000


def read_wikitext(root: Path | str, splits: Iterable[str] = SPLITS) -> dict[str, str]:
    """Text of each split, read from ``root/wikitext-103-raw/`` (or ``root`` itself)."""
    root = Path(root)
    folder = root / "wikitext-103-raw"
    folder = folder if folder.is_dir() else root
    texts = {}
    for split in splits:
        path = folder / f"wiki.{split}.raw"
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        texts[split] = path.read_text(encoding="utf-8")
    return texts


def clean_text(text: str) -> str:
    """The authors' normalisation: lower case, keep only letters, digits and whitespace."""
    return "".join(c for c in text.lower() if c.isalnum() or c.isspace())


def train_bpe(texts: Iterable[str], vocab_size: int, path: Path | str) -> Any:
    """Train a byte-level BPE tokenizer on ``texts`` and save its JSON to ``path`` atomically.

    Returns the ``tokenizers.Tokenizer``; ``END_OF_TEXT`` is its special token 0.
    """
    tk = _tokenizers()
    tokenizer = tk.Tokenizer(tk.models.BPE())
    tokenizer.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    write_atomic(Path(path), lambda tmp: tmp.write_text(tokenizer.to_str(), encoding="utf-8"))
    return tokenizer


def load_tokenizer(path: Path | str) -> Any:
    """A tokenizer saved by ``train_bpe`` (or any ``tokenizers`` JSON file)."""
    tk = _tokenizers()
    try:
        return tk.Tokenizer.from_file(str(path))
    except Exception as e:  # tokenizers raises a plain Exception for bad files
        raise DataError(f"{path}: not a tokenizer file ({e})") from e


def tokenize_to_array(text: str, tokenizer: Any) -> np.ndarray:
    """Token ids of ``text``: uint16 (n,) when the vocabulary fits, else int32 (n,).

    Encoded in batches of lines, so a token never spans a line break.
    """
    dtype = np.uint16 if tokenizer.get_vocab_size() <= 2**16 else np.int32
    parts = [np.asarray(e.ids, dtype=dtype) for e in _encode_lines(text, tokenizer)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def chunks(tokens: np.ndarray, length: int) -> np.ndarray:
    """Non-overlapping contexts of ``length + 1`` tokens: (n,) -> (n // (length+1), length+1).

    A context's first ``length`` tokens are the input and its last ``length`` the targets;
    the remainder that does not fill a context is dropped.
    """
    if tokens.ndim != 1 or length < 1:
        raise DataError(f"chunks: need 1-D tokens and length >= 1, got {tokens.shape}, {length}")
    block = length + 1
    n = len(tokens) // block
    return tokens[: n * block].reshape(n, block)


def _encode_lines(text: str, tokenizer: Any) -> Iterator[Any]:
    lines = text.splitlines(keepends=True)
    for start in range(0, len(lines), _BATCH_LINES):
        yield from tokenizer.encode_batch(lines[start : start + _BATCH_LINES])


def _tokenizers() -> Any:
    try:
        import tokenizers
        import tokenizers.decoders
        import tokenizers.models
        import tokenizers.pre_tokenizers
        import tokenizers.trainers
    except ImportError as e:
        raise DataError("tokenizing needs tokenizers: pip install tokenizers") from e
    return tokenizers
