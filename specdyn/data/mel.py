"""Log-mel features for speech, in torch alone.

``log_mel`` follows the paper's LSTM setting (PAPER-NOTES): 25 ms Hann windows every 10 ms
at 16 kHz (n_fft 400, hop 160), power spectrum, a triangular HTK-scale mel filterbank,
per-utterance normalisation, then the mean of every 3 consecutive frames. The defaults here
(80 filters, log(x + 1e-6)) are this project's choice; the authors' code used 40 filters
with area ("slaney") normalisation and no log, which ``n_mels=40, area_norm=True,
log=False`` reproduces.
"""

from __future__ import annotations

import numpy as np
import torch

from specdyn.data.errors import DataError

N_FFT = 400
HOP = 160
FRAME_AVERAGE = 3


def hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    """HTK mel scale: 2595 log10(1 + f / 700)."""
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(
    n_freqs: int,
    n_mels: int,
    sample_rate: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    area_norm: bool = False,
) -> torch.Tensor:
    """Triangular filters evenly spaced on the HTK mel scale: (n_freqs, n_mels).

    ``n_freqs`` bins cover 0..sample_rate/2. Filter m rises from edge m to its peak at
    edge m+1 and falls to edge m+2 (edges: n_mels + 2 points from f_min to f_max).
    ``area_norm`` scales each filter by 2 / (its width in Hz), as librosa's "slaney" norm.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    freqs = torch.linspace(0, sample_rate / 2, n_freqs, dtype=torch.float64)  # (F,)
    mel_lo, mel_hi = hz_to_mel(torch.tensor([f_min, f_max], dtype=torch.float64)).tolist()
    edges = mel_to_hz(torch.linspace(mel_lo, mel_hi, n_mels + 2, dtype=torch.float64))  # (M+2,)
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]  # (M,) each
    rising = (freqs[:, None] - lo) / (mid - lo)  # (F, M)
    falling = (hi - freqs[:, None]) / (hi - mid)
    fb = torch.clamp(torch.minimum(rising, falling), min=0.0)
    if area_norm:
        fb = fb * (2.0 / (hi - lo))
    return fb.float()


def power_spectrogram(waveform: torch.Tensor) -> torch.Tensor:
    """|STFT|^2 with a periodic Hann window, centred frames, reflect padding.

    waveform (samples,) float -> (1 + samples // 160, 201).
    """
    window = torch.hann_window(N_FFT, periodic=True, dtype=waveform.dtype)
    spec = torch.stft(
        waveform, N_FFT, hop_length=HOP, window=window, center=True,
        pad_mode="reflect", return_complex=True,
    )  # (201, frames)  # fmt: skip
    return spec.abs().pow(2).T


def log_mel(
    waveform: torch.Tensor | np.ndarray,
    sample_rate: int = 16000,
    *,
    n_mels: int = 80,
    log: bool = True,
    area_norm: bool = False,
) -> torch.Tensor:
    """Normalised, 3-frame-averaged (log-)mel features of one utterance.

    waveform (samples,) float at ``sample_rate`` -> float32 (frames, n_mels) with
    frames = (1 + samples // 160) // 3 (a last partial group of frames is dropped). Each
    mel channel has mean 0 and standard deviation 1 over the utterance before averaging.
    """
    x = torch.as_tensor(waveform, dtype=torch.float32)
    if x.ndim != 1:
        raise DataError(f"log_mel: expected a 1-D waveform, got shape {tuple(x.shape)}")
    if x.numel() < N_FFT:
        raise DataError(f"log_mel: waveform of {x.numel()} samples is shorter than {N_FFT}")
    fb = mel_filterbank(N_FFT // 2 + 1, n_mels, sample_rate, area_norm=area_norm)
    mel = power_spectrogram(x) @ fb  # (frames, n_mels)
    if log:
        mel = torch.log(mel + 1e-6)
    return average_frames(normalize(mel), FRAME_AVERAGE)


def normalize(features: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-channel mean 0, std 1 over time: (frames, channels) -> same shape."""
    mean = features.mean(dim=0, keepdim=True)
    std = features.std(dim=0, correction=0, keepdim=True)
    return (features - mean) / (std + eps)


def average_frames(features: torch.Tensor, n: int) -> torch.Tensor:
    """Mean of each run of ``n`` frames: (frames, C) -> (frames // n, C)."""
    groups = features.shape[0] // n
    return features[: groups * n].reshape(groups, n, -1).mean(dim=1)


def n_output_frames(n_samples: int) -> int:
    """Frames ``log_mel`` returns for a waveform of ``n_samples``."""
    return (1 + n_samples // HOP) // FRAME_AVERAGE
