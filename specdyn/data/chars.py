"""Characters for CTC speech recognition: vocabulary, greedy decoding, error rates.

Vocabulary: blank 0, unknown 1, letters a-z 2..27, space 28, apostrophe 29. That is 30
symbols, the 28 characters of LibriSpeech transcripts plus blank and unknown (the
authors' tokenizer has the same 30; "29" in the notes miscounts them).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

from specdyn.data.errors import DataError

if TYPE_CHECKING:  # the vocabulary's size is read by presets, which need no torch
    import torch

BLANK = 0
UNKNOWN = 1
CHARS = string.ascii_lowercase + " '"
VOCAB = ("<blank>", "<unk>", *CHARS)
VOCAB_SIZE = len(VOCAB)
_INDEX = {c: i + 2 for i, c in enumerate(CHARS)}
_UNKNOWN_TEXT = "?"  # what decode_ids writes for UNKNOWN


def encode_text(text: str) -> torch.Tensor:
    """Transcript -> int64 ids (len(text),); case is ignored, other characters are UNKNOWN."""
    import torch

    return torch.tensor([_INDEX.get(c, UNKNOWN) for c in text.lower()], dtype=torch.int64)


def decode_ids(ids: Sequence[int] | torch.Tensor) -> str:
    """Ids -> text: blanks vanish, UNKNOWN becomes "?"."""
    import torch

    out = []
    for i in torch.as_tensor(ids, dtype=torch.int64).reshape(-1).tolist():
        if not 0 <= i < VOCAB_SIZE:
            raise DataError(f"decode_ids: id {i} is outside the vocabulary of {VOCAB_SIZE}")
        out.append("" if i == BLANK else _UNKNOWN_TEXT if i == UNKNOWN else CHARS[i - 2])
    return "".join(out)


def greedy_decode(log_probs: torch.Tensor) -> list[int]:
    """Best path CTC decoding of one utterance: log_probs (T, V) -> ids.

    Takes the argmax at every frame, merges consecutive repeats, then drops blanks, so
    "a a _ a" decodes to "aa".
    """
    if log_probs.ndim != 2:
        raise DataError(f"greedy_decode: expected (T, V) scores, got {tuple(log_probs.shape)}")
    import torch

    best = torch.unique_consecutive(log_probs.argmax(dim=-1))
    return [i for i in best.tolist() if i != BLANK]


def edit_distance(ref: Sequence[object], hyp: Sequence[object]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions each cost 1)."""
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i]
        for j, h in enumerate(hyp, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def cer(ref: str, hyp: str) -> float:
    """Character error rate: edit distance over characters / len(ref)."""
    return corpus_error_rate([ref], [hyp], words=False)


def wer(ref: str, hyp: str) -> float:
    """Word error rate: edit distance over whitespace-separated words / words in ref."""
    return corpus_error_rate([ref], [hyp], words=True)


def corpus_error_rate(refs: Sequence[str], hyps: Sequence[str], *, words: bool) -> float:
    """Total edit distance / total reference length over pairs of transcripts."""
    if len(refs) != len(hyps):
        raise DataError(f"error rate: {len(refs)} references but {len(hyps)} hypotheses")
    units = (lambda s: s.split()) if words else list
    distance = sum(edit_distance(units(r), units(h)) for r, h in zip(refs, hyps, strict=True))
    total = sum(len(units(r)) for r in refs)
    if total == 0:
        raise DataError("error rate: the references are empty")
    return distance / total
