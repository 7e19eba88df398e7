"""Speech features: LibriSpeech, its espeak-ng stand-in, or random features (paper
Appendix A.3).

Features: log-mel bands (25 ms window, 10 ms hop, area-normalised filters), per-utterance
normalised and averaged over 3 frames as in the authors' code (``log=False``: mel power, as
the authors fed it). They are computed once and cached as safetensors in
``cache_dir("speech-features")``, keyed by the audio files and the feature settings. The
stand-in's audio is synthesised once into ``cache_dir("espeak-librispeech", key)``, keyed by
its sentences, voices and rates.
Subsets of utterances are fixed (the same for every run seed).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import Tensor, nn

from specdyn.config import seeding
from specdyn.data.cache import cache_dir, dataset_root
from specdyn.data.chars import VOCAB_SIZE, encode_text
from specdyn.data.configs import SpeechData
from specdyn.data.errors import DataError
from specdyn.data.librispeech import Utterance, list_utterances, read_audio
from specdyn.data.mel import log_mel
from specdyn.data.standins import sotu_texts, split_sentences, synthesize_librispeech
from specdyn.errors import ConfigError
from specdyn.store.atomic import write_atomic

SUBSETS = {"real": ("train-clean-100", "dev-clean"), "standin": ("train-synth", "dev-synth")}
Speech = tuple[list[Tensor], list[Tensor]]  # features (T_i, n_mels) and character ids (L_i,)


def load_speech(data: SpeechData, n_mels: int) -> tuple[dict[str, Speech], str]:
    """{"train": Speech, "val": Speech} and the words for ``data_source``."""
    if data.source == "synthetic":
        n = data.train_utterances or 64
        splits = {"train": _random_speech(n, n_mels, 0), "val": _random_speech(n // 4, n_mels, 1)}
        return splits, f"random features and transcripts, {n} train / {n // 4} val (generated)"
    if data.source not in SUBSETS:
        raise ConfigError(f"unknown data source '{data.source}'; known: real, standin, synthetic")
    root = _standin_root(data) if data.source == "standin" else _real_root(data.data_dir)
    train, val = SUBSETS[data.source]
    sets = {
        "train": _subset(list_utterances(root, train), data.train_utterances),
        "val": _subset(list_utterances(root, val), data.eval_utterances),
    }
    splits = {split: _features(u, data, n_mels) for split, u in sets.items()}
    what = f"LibriSpeech {' / '.join(SUBSETS['real'])}" if data.source == "real" else (
        f"espeak-ng speech ({len(data.voices)} voices x {len(data.rates)} rates) of State of "
        "the Union sentences, stand-in for LibriSpeech"
    )  # fmt: skip
    bands = f"{n_mels} {'log-mel' if data.log else 'mel power'} bands"
    return (
        splits,
        f"{what} in {root}, {len(sets['train']):,} train / {len(sets['val']):,} val, {bands}",
    )


def _real_root(data_dir: str) -> Path:
    """The folder holding LibriSpeech: data_dir, or the cache, downloaded if possible."""

    def present(root: Path) -> bool:
        return all((root / "LibriSpeech" / s).is_dir() for s in SUBSETS["real"])

    return dataset_root("librispeech", data_dir, present)


def _standin_root(data: SpeechData) -> Path:
    """Synthesise (once, cached) the stand-in corpus; its folder is keyed by its settings."""
    n_train, n_val = data.train_utterances or 2000, data.eval_utterances or 200
    speeches = sotu_texts()
    train_text = _sentences([t for i, t in enumerate(speeches) if i % 10 != 9], data, n_train)
    val_text = _sentences([t for i, t in enumerate(speeches) if i % 10 == 9], data, n_val)
    key = _digest([*train_text, "|", *val_text, *data.voices, *map(str, data.rates)])
    root = Path(data.data_dir) if data.data_dir else cache_dir("espeak-librispeech", key)
    train_sub, val_sub = SUBSETS["standin"]
    synthesize_librispeech(train_text, root, n_train, data.voices, data.rates, train_sub)
    synthesize_librispeech(val_text, root, n_val, data.voices, data.rates, val_sub)
    return root


def _sentences(speeches: list[str], data: SpeechData, n: int) -> list[str]:
    """``n`` sentences of 3 to ``max_words`` words, drawn at random (fixed seed)."""
    pool = [s for text in speeches for s in split_sentences(text, 3, data.max_words)]
    order = seeding.fixed_permutation(len(pool))
    return [pool[i] for i in order[:n].tolist()]


def _subset(utterances: list[Utterance], n: int) -> list[Utterance]:
    """A fixed random subset of ``n`` (0: all; the same for every seed), in id order."""
    order = seeding.fixed_permutation(len(utterances))
    return [utterances[i] for i in sorted(order[: n or None].tolist())]


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _features(utterances: list[Utterance], data: SpeechData, n_mels: int) -> Speech:
    """Features and ids of every utterance, read from (or written to) a safetensors cache."""
    from safetensors.torch import load_file, save_file

    kind = f"{'log' if data.log else 'power'}{'-area' if data.area_norm else ''}"
    key = _digest([str(Path(u.path).resolve()) for u in utterances])
    path = cache_dir("speech-features", f"{key}-{n_mels}-{kind}.safetensors")
    if path.is_file():
        t = load_file(str(path))
        feats = t["features"].split(t["frames"].tolist())
        return list(feats), list(t["labels"].split(t["label_lengths"].tolist()))
    feats = [_utterance_features(u, data, n_mels) for u in utterances]
    labels = [encode_text(u.text) for u in utterances]
    tensors = {
        "features": torch.cat(feats), "frames": torch.tensor([len(f) for f in feats]),
        "labels": torch.cat(labels), "label_lengths": torch.tensor([len(y) for y in labels]),
    }  # fmt: skip
    write_atomic(path, lambda tmp: save_file(tensors, str(tmp)))
    return feats, labels


def _utterance_features(u: Utterance, data: SpeechData, n_mels: int) -> Tensor:
    waveform, rate = read_audio(u.path)
    if rate != 16000:
        raise DataError(f"{u.path}: sample rate {rate}, expected 16000")
    return log_mel(waveform, rate, n_mels=n_mels, log=data.log, area_norm=data.area_norm)


def _random_speech(n: int, n_mels: int, stream: int) -> Speech:
    """``n`` utterances of 20-40 random frames, each with 3-8 random non-blank characters."""
    g = seeding.fixed_generator(stream)
    frames = torch.randint(20, 41, (n,), generator=g).tolist()
    chars = torch.randint(3, 9, (n,), generator=g).tolist()
    feats = [torch.randn(t, n_mels, generator=g) for t in frames]
    return feats, [torch.randint(2, VOCAB_SIZE, (c,), generator=g) for c in chars]


def collate(feats: list[Tensor], labels: list[Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Padded features (B, T_max, n_mels), frames (B,), concatenated ids (sum L,), lengths (B,)."""
    x = nn.utils.rnn.pad_sequence(feats, batch_first=True)
    frames = torch.tensor([len(f) for f in feats])
    return x, frames, torch.cat(labels), torch.tensor([len(y) for y in labels])
