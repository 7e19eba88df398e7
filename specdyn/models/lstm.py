"""Bidirectional LSTM for CTC speech recognition (paper Appendix A.3).

Four stacked bidirectional layers of 256 units in one ``nn.LSTM``, then a Linear layer to 30
symbols (blank 0, unknown 1, 26 letters, space, apostrophe: ``specdyn.data.VOCAB``).
Inputs are 40 mel features per frame. Returns log-probabilities (T, B, V) for
``nn.CTCLoss``.

Matrix names (``weight_matrices``): ``lstm.weight_ih_l{k}`` (4H, in) and
``lstm.weight_hh_l{k}`` (4H, H), ``_reverse`` for the backward direction, each with gate
blocks ``.i .f .g .o`` (H, in); ``fc`` (V, 2H). The paper's figures use the "g" (cell) gate:
SV plot ``lstm.weight_ih_l2.g`` (3rd layer input weight), alignment
``lstm.weight_ih_l2.g->lstm.weight_ih_l3.g`` (3rd -> 4th layer input weights, forward).

Layer k+1 reads [forward output; reverse output] of layer k, 2H coordinates, so a pair into
it names which half its ``prev`` feeds (``Pair.next_rows``); compute these
alignments with :func:`specdyn.spectral.pair_alignment`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from specdyn.models.configs import LSTMConfig
from specdyn.spectral.pairs import Pair

DIRECTIONS = ("", "_reverse")  # forward output is the first H features, reverse the last H


class SpeechLSTM(nn.Module):
    """(features (B, T, n_mels), lengths (B,)) -> log-probs (T, B, vocab)."""

    def __init__(self, cfg: LSTMConfig):
        super().__init__()
        self.config = cfg
        self.lstm = nn.LSTM(
            cfg.n_mels, cfg.hidden, cfg.n_layers, batch_first=True, bidirectional=True
        )
        self.fc = nn.Linear(2 * cfg.hidden, cfg.vocab_size)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """lengths: frames per utterance; padding beyond it is not read (the reverse
        direction starts at each utterance's own end). None: every frame is real."""
        T = x.shape[1]
        if lengths is None:
            h, _ = self.lstm(x)  # (B, T, 2H)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            h, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=T)
        logits = self.fc(h)  # (B, T, V); zeros past each utterance's end before fc
        return torch.log_softmax(logits, dim=-1).transpose(0, 1)  # (T, B, V)


def alignment_pairs(cfg: LSTMConfig, gate: str = "g") -> list[Pair]:
    """Consecutive gate-``gate`` matrices, per Appendix A.3 (10L - 4 pairs: 36 for L = 4).

    For layers k and each direction pair (d, e), with half(d) the rows d's output occupies
    in the next layer's 2H inputs:
      - depth:  weight_ih_l{k}{d} -> weight_ih_l{k+1}{e}, rows half(d)
      - within: weight_ih_l{k}{d} -> weight_hh_l{k}{d} (same direction, H -> H)
      - hidden: weight_hh_l{k}{d} -> weight_ih_l{k+1}{e}, rows half(d)
      - output: weight_ih_l{L-1}{d} and weight_hh_l{L-1}{d} -> fc, rows half(d)
    Both directions of layer k feed both directions of layer k+1, so all four combinations
    are listed. The gate's output space is the cell's, which reaches h elementwise.
    """
    H, L = cfg.hidden, cfg.n_layers

    def name(kind: str, k: int, d: str) -> str:
        return f"lstm.weight_{kind}_l{k}{d}.{gate}"

    def rows(d: str) -> tuple[int, int]:
        return (0, H) if d == "" else (H, 2 * H)

    pairs: list[Pair] = []
    for k in range(L):
        for d in DIRECTIONS:
            pairs.append(Pair(name("ih", k, d), name("hh", k, d)))
            consumers = [name("ih", k + 1, e) for e in DIRECTIONS] if k + 1 < L else ["fc"]
            for kind in ("ih", "hh"):
                pairs += [Pair(name(kind, k, d), c, next_rows=rows(d)) for c in consumers]
    return pairs
