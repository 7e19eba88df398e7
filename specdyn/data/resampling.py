"""Band-limited resampling with a Hann-windowed sinc, in torch.

For rates ``orig`` -> ``new`` (reduced by their gcd), output sample ``m`` sits at input
time ``t = m * orig / new`` and is ``sum_n x[n] h(t - n)``, where ``h`` is an ideal low-pass
(cut-off ``rolloff`` times the lower Nyquist frequency) truncated to ``zeros`` zero
crossings each side by a Hann window. Output samples of phase ``j = m mod new`` all use
the same taps, so the whole signal is one strided ``conv1d`` with ``new`` kernels.
22,050 Hz -> 16,000 Hz reduces to 441 -> 320: 320 kernels of 488 taps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def sinc_kernels(orig: int, new: int, zeros: int = 16, rolloff: float = 0.99) -> torch.Tensor:
    """Polyphase taps (new, 1, taps) for reduced rates ``orig`` -> ``new``; float64."""
    cutoff = 0.5 * min(1.0, new / orig) * rolloff  # cycles per input sample
    half_width = zeros / (2 * cutoff)  # in input samples
    pad = math.ceil(half_width)
    taps = orig + 2 * pad + 1
    phase = torch.arange(new, dtype=torch.float64)[:, None] * orig / new  # (new, 1)
    t = phase - torch.arange(taps, dtype=torch.float64)[None, :] + pad  # (new, taps)
    window = torch.where(
        t.abs() <= half_width, torch.cos(math.pi * t / (2 * half_width)) ** 2, torch.zeros(())
    )
    return (2 * cutoff * torch.sinc(2 * cutoff * t) * window)[:, None, :]


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample a (samples,) signal: -> (ceil(samples * new_rate / orig_rate),), same dtype.

    The signal is taken as zero outside its ends.
    """
    g = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // g, new_rate // g
    if orig == new:
        return waveform.clone()
    kernels = sinc_kernels(orig, new)
    pad = (kernels.shape[-1] - orig - 1) // 2
    n_out = math.ceil(waveform.numel() * new / orig)
    blocks = math.ceil(n_out / new)  # output samples per phase
    right = blocks * orig + kernels.shape[-1] - waveform.numel() - pad
    x = F.pad(waveform.double()[None, None, :], (pad, max(right, 0)))
    y = F.conv1d(x, kernels, stride=orig)[0, :, :blocks]  # (new, blocks): phase j, block q
    return y.T.reshape(-1)[:n_out].to(waveform.dtype)
