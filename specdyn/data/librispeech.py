"""The LibriSpeech folder layout and its audio.

``<root>/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` holds one line per
utterance, ``<ID> <TRANSCRIPT>``; the audio is ``<ID>.flac`` (``.wav`` is accepted too) in
the same folder. The official archives unpack to ``LibriSpeech/<subset>/``, so ``root`` may
be the folder above ``LibriSpeech`` too. Features, vocabulary and error rates live in
``mel`` and ``chars`` and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from specdyn.data.chars import (
    VOCAB,
    VOCAB_SIZE,
    cer,
    decode_ids,
    encode_text,
    greedy_decode,
    wer,
)
from specdyn.data.errors import DataError
from specdyn.data.mel import log_mel

AUDIO_SUFFIXES = (".flac", ".wav")


@dataclass(frozen=True)
class Utterance:
    """One utterance: its LibriSpeech id, audio file and transcript (as written, upper case)."""

    id: str
    path: Path
    text: str


def list_utterances(root: Path | str, subset: str) -> list[Utterance]:
    """Every utterance of ``subset`` (e.g. "train-clean-100", "dev-clean"), sorted by id."""
    folder = _subset_dir(Path(root), subset)
    utterances = []
    for trans in sorted(folder.glob("*/*/*.trans.txt")):
        utterances.extend(_read_transcripts(trans))
    if not utterances:
        raise DataError(f"{folder}: no <speaker>/<chapter>/*.trans.txt files")
    return sorted(utterances, key=lambda u: u.id)


def read_audio(path: Path) -> tuple[torch.Tensor, int]:
    """Decode an audio file with soundfile: (waveform float32 (samples,), sample rate).

    Several channels are averaged to one.
    """
    sf = _soundfile()
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (samples, channels)
    except (RuntimeError, OSError) as e:  # soundfile.LibsndfileError is a RuntimeError
        raise DataError(f"{path}: cannot decode audio ({e})") from e
    return torch.from_numpy(np.ascontiguousarray(data.mean(axis=1))), int(rate)


def utterance_features(utterance: Utterance, sample_rate: int = 16000) -> torch.Tensor:
    """``log_mel`` of one utterance's audio: (frames, 80). Its rate must be ``sample_rate``."""
    waveform, rate = read_audio(utterance.path)
    if rate != sample_rate:
        raise DataError(f"{utterance.path}: sample rate {rate}, expected {sample_rate}")
    return log_mel(waveform, sample_rate)


def _subset_dir(root: Path, subset: str) -> Path:
    for folder in (root / subset, root / "LibriSpeech" / subset):
        if folder.is_dir():
            return folder
    raise DataError(f"{root}: no {subset}/ or LibriSpeech/{subset}/ folder")


def _read_transcripts(trans: Path) -> list[Utterance]:
    utterances = []
    for number, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        uid, _, text = line.strip().partition(" ")
        if not text:
            raise DataError(f"{trans}:{number}: expected '<ID> <TRANSCRIPT>'")
        utterances.append(Utterance(uid, _audio_path(trans.parent, uid), text.strip()))
    return utterances


def _audio_path(folder: Path, uid: str) -> Path:
    for suffix in AUDIO_SUFFIXES:
        if (folder / f"{uid}{suffix}").is_file():
            return folder / f"{uid}{suffix}"
    raise DataError(f"{folder / uid}.flac: no such file (nor .wav)")


def _soundfile() -> ModuleType:
    try:
        import soundfile
    except (ImportError, OSError) as e:  # OSError: libsndfile itself is missing
        raise DataError("reading audio needs soundfile: pip install soundfile") from e
    return soundfile


__all__ = [
    "AUDIO_SUFFIXES",
    "Utterance",
    "list_utterances",
    "read_audio",
    "utterance_features",
    "log_mel",
    "VOCAB",
    "VOCAB_SIZE",
    "encode_text",
    "decode_ids",
    "greedy_decode",
    "cer",
    "wer",
]
