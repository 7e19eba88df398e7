"""specdyn.data.speech: a LibriSpeech folder in, features cached under the one cache root."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from specdyn.data import cache
from specdyn.data.speech import SpeechData, load_speech


def _tone(seconds: float, freq: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * math.pi * freq * t)).astype(np.float32)


@pytest.fixture
def librispeech(tmp_path):
    """Two utterances in each of train-clean-100 and dev-clean, as FLAC."""
    sf = pytest.importorskip("soundfile")
    for subset, freq in (("train-clean-100", 300.0), ("dev-clean", 500.0)):
        chapter = tmp_path / "data" / "LibriSpeech" / subset / "84" / "121123"
        chapter.mkdir(parents=True)
        for i in range(2):
            sf.write(chapter / f"84-121123-000{i}.flac", _tone(0.3 + 0.1 * i, freq), 16000)
        text = "84-121123-0000 GO DO\n84-121123-0001 YOU HEAR\n"
        (chapter / "84-121123.trans.txt").write_text(text)
    return tmp_path / "data"


def test_zero_means_every_utterance(librispeech, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_ROOT", tmp_path / "cache")
    splits, _ = load_speech(SpeechData(source="real", data_dir=str(librispeech)), n_mels=8)
    assert [len(splits[s][0]) for s in ("train", "val")] == [2, 2]
    one = SpeechData(source="real", data_dir=str(librispeech), train_utterances=1)
    assert len(load_speech(one, n_mels=8)[0]["train"][0]) == 1


def test_features_are_cached_under_the_cache_root(librispeech, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_ROOT", tmp_path / "cache")
    data = SpeechData(source="real", data_dir=str(librispeech))
    first, what = load_speech(data, n_mels=8)
    assert "LibriSpeech" in what and "2 train / 2 val" in what
    files = sorted((tmp_path / "cache" / "speech-features").glob("*.safetensors"))
    assert len(files) == 2  # one per split; nothing written beside the audio
    assert not list(librispeech.rglob("*.safetensors"))
    again, _ = load_speech(data, n_mels=8)  # read back from the cache
    for split in ("train", "val"):
        pairs = zip(first[split][0], again[split][0], strict=True)
        assert all(torch.equal(a, b) for a, b in pairs)
    assert first["train"][0][0].shape[1] == 8
    power, _ = load_speech(SpeechData(source="real", data_dir=str(librispeech), log=False), 8)
    assert len(list((tmp_path / "cache" / "speech-features").glob("*"))) == 4  # its own key
    assert not torch.equal(power["train"][0][0], first["train"][0][0])
