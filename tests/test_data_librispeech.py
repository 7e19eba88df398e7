"""LibriSpeech layout, log-mel features, the character vocabulary, CTC decoding, CER/WER."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from specdyn.data import (
    BLANK,
    VOCAB_SIZE,
    DataError,
    cer,
    decode_ids,
    encode_text,
    greedy_decode,
    list_utterances,
    log_mel,
    mel_filterbank,
    read_audio,
    utterance_features,
    wer,
)
from specdyn.data.mel import average_frames, n_output_frames, normalize


def _tone(seconds: float, freq: float = 440.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(0).normal(0, 0.01, t.size)
    return (0.5 * np.sin(2 * math.pi * freq * t) + noise).astype(np.float32)


@pytest.fixture
def corpus(tmp_path):
    sf = pytest.importorskip("soundfile")
    chapter = tmp_path / "LibriSpeech" / "dev-clean" / "84" / "121123"
    chapter.mkdir(parents=True)
    sf.write(chapter / "84-121123-0001.flac", _tone(0.5, 300.0), 16000)
    sf.write(chapter / "84-121123-0000.flac", _tone(0.3), 16000)
    (chapter / "84-121123.trans.txt").write_text(
        "84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS THAN FIVE MINUTES\n\n"
    )
    return tmp_path


def test_list_utterances_and_read_audio(corpus):
    utterances = list_utterances(corpus, "dev-clean")
    assert [u.id for u in utterances] == ["84-121123-0000", "84-121123-0001"]
    assert utterances[1].text == "BUT IN LESS THAN FIVE MINUTES"
    waveform, rate = read_audio(utterances[0].path)
    assert rate == 16000 and waveform.shape == (4800,) and waveform.dtype == torch.float32
    np.testing.assert_allclose(waveform.numpy(), _tone(0.3), atol=1e-4)  # FLAC is lossless
    assert utterance_features(utterances[1]).shape == (n_output_frames(8000), 80)


def test_layout_errors(corpus):
    with pytest.raises(DataError, match="train-clean-100"):
        list_utterances(corpus, "train-clean-100")
    chapter = corpus / "LibriSpeech" / "dev-clean" / "84" / "121123"
    (chapter / "84-121123-0001.flac").unlink()
    with pytest.raises(DataError, match="84-121123-0001.flac"):
        list_utterances(corpus, "dev-clean")
    (chapter / "84-121123.trans.txt").write_text("84-121123-0000\n")
    with pytest.raises(DataError, match=r"trans.txt:1"):
        list_utterances(corpus, "dev-clean")


def test_wav_is_accepted_and_bad_audio_is_a_data_error(tmp_path):
    sf = pytest.importorskip("soundfile")
    chapter = tmp_path / "s" / "1" / "2"
    chapter.mkdir(parents=True)
    sf.write(chapter / "1-2-0000.wav", _tone(0.1), 16000)
    (chapter / "1-2-0001.wav").write_bytes(b"RIFF nonsense")
    (chapter / "1-2.trans.txt").write_text("1-2-0000 A\n1-2-0001 B\n")
    good, bad = list_utterances(tmp_path, "s")
    assert read_audio(good.path)[0].shape == (1600,)
    with pytest.raises(DataError, match="1-2-0001.wav"):
        read_audio(bad.path)


def test_log_mel_shape_and_normalisation():
    features = log_mel(torch.from_numpy(_tone(1.0)))
    assert features.shape == (101 // 3, 80) and features.dtype == torch.float32
    assert features.shape[0] == n_output_frames(16000)
    assert abs(features.shape[0] - 16000 / 160 / 3) < 1
    assert torch.isfinite(features).all()
    # 16,160 samples give 102 frames, a whole number of groups of 3: the mean 0 that the
    # normalisation gives each channel survives the averaging
    features = log_mel(torch.from_numpy(_tone(1.01)))
    assert features.shape == (34, 80)
    torch.testing.assert_close(features.mean(0), torch.zeros(80), atol=1e-4, rtol=0)


def test_normalize_and_average_frames():
    x = torch.randn(12, 5) * 3 + 7
    z = normalize(x)
    torch.testing.assert_close(z.mean(0), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(0, correction=0), torch.ones(5), atol=1e-4, rtol=0)
    averaged = average_frames(torch.arange(14.0)[:, None], 3)  # frames 12, 13 dropped
    assert averaged.squeeze(1).tolist() == [1.0, 4.0, 7.0, 10.0]


def test_log_mel_finds_the_tone():
    rate, freq = 16000, 1000.0
    fb = mel_filterbank(201, 80, rate)
    features = log_mel(torch.from_numpy(_tone(1.0, freq)), log=False)
    assert features.shape == (33, 80)
    peak_channel = int(fb[int(freq / (rate / 400))].argmax())
    unnormalised = torch.stft(
        torch.from_numpy(_tone(1.0, freq)), 400, 160, window=torch.hann_window(400),
        return_complex=True,
    ).abs().pow(2).T @ fb  # fmt: skip
    assert int(unnormalised.mean(0).argmax()) == peak_channel


def test_mel_filterbank_triangles():
    fb = mel_filterbank(201, 80, 16000)
    assert fb.shape == (201, 80) and (fb >= 0).all() and fb.max() <= 1.0
    peaks = fb.argmax(dim=0)
    assert (peaks[1:] >= peaks[:-1]).all()  # centres rise with the channel
    assert (fb.sum(dim=0) > 0).all()  # no empty filter at this resolution


def test_log_mel_rejects_bad_input():
    with pytest.raises(DataError, match="1-D"):
        log_mel(torch.zeros(2, 1000))
    with pytest.raises(DataError, match="shorter"):
        log_mel(torch.zeros(100))


def test_vocabulary_round_trip():
    assert VOCAB_SIZE == 30
    text = "it's a test of the ctc vocabulary"
    ids = encode_text(text.upper())
    assert ids.dtype == torch.int64 and ids.shape == (len(text),)
    assert ids.min() >= 2 and ids.max() < VOCAB_SIZE
    assert decode_ids(ids) == text
    assert encode_text("a b")[1] == encode_text(" ")[0] == 28
    assert encode_text("'").item() == 29 and encode_text("7").item() == 1
    assert decode_ids([BLANK, 2, 1]) == "a?"
    with pytest.raises(DataError, match="id 30"):
        decode_ids([30])


def test_greedy_decode_collapses_repeats_then_drops_blanks():
    a, b = encode_text("ab").tolist()
    path = [a, a, BLANK, a, b, b, BLANK, BLANK, b]  # -> "a", "a", "b", "b"
    log_probs = torch.full((len(path), VOCAB_SIZE), -10.0)
    log_probs[torch.arange(len(path)), torch.tensor(path)] = 0.0
    assert decode_ids(greedy_decode(log_probs)) == "aabb"
    with pytest.raises(DataError, match="T, V"):
        greedy_decode(torch.zeros(VOCAB_SIZE))


def test_error_rates():
    assert wer("a b c", "a x c") == pytest.approx(1 / 3)
    assert wer("the cat sat", "the cat sat") == 0.0
    assert wer("a b", "a b c d") == 1.0  # two insertions over two words
    assert cer("kitten", "sitting") == pytest.approx(3 / 6)
    assert cer("abc", "") == 1.0
    with pytest.raises(DataError, match="empty"):
        wer("", "a")


def test_missing_soundfile_names_the_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "soundfile", None)  # import soundfile -> ImportError
    with pytest.raises(DataError, match="pip install soundfile"):
        read_audio(tmp_path / "x.flac")
