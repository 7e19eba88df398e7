"""16-bit PCM WAV files through the standard library's ``wave`` module (no soundfile)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import torch

from specdyn.data.errors import DataError
from specdyn.store.atomic import write_atomic


def read_wav(path: Path) -> tuple[torch.Tensor, int]:
    """A 16-bit PCM WAV as (float32 waveform in [-1, 1] (samples,), sample rate).

    Several channels are averaged to one.
    """
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError) as e:
        raise DataError(f"{path}: not a readable WAV file ({e})") from e
    if width != 2:
        raise DataError(f"{path}: {8 * width}-bit samples, expected 16-bit PCM")
    pcm = np.frombuffer(frames, dtype="<i2").reshape(-1, channels).mean(axis=1)
    return torch.from_numpy((pcm / 32768.0).astype(np.float32)), rate


def write_wav(path: Path, waveform: torch.Tensor, sample_rate: int) -> None:
    """Write a (samples,) float waveform in [-1, 1] as mono 16-bit PCM, atomically."""
    pcm = (waveform.clamp(-1.0, 1.0) * 32767.0).round().to(torch.int16).numpy()
    write_atomic(path, lambda tmp: _write_pcm(tmp, pcm.astype("<i2").tobytes(), sample_rate))


def _write_pcm(path: Path, frames: bytes, sample_rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(frames)
