"""Alignment between consecutive matrices (paper Eq. 3), as each task declares it.

A :class:`Pair` says which basis of each matrix spans the space the two share. For
``y = W_next (W_prev x)`` that is the left vectors U of ``W_prev`` (its outputs) and the right
vectors V of ``W_next`` (its inputs). An embedding stored (vocab, d) outputs along its V, so
its pairs use ``prev_side="V"``. When the next matrix is a flattened convolution
(c_in * prod(kernel) inputs), only its centre spatial position is used (Appendix A.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from specdyn.spectral.metrics import alignment_matrix
from specdyn.spectral.svd import Spectrum

Side = Literal["U", "V"]


@dataclass(frozen=True)
class Pair:
    """Two matrices whose bases are compared: ``prev`` feeds ``next``.

    prev_side / next_side: which singular vectors span the shared space.
    next_kernel: the spatial kernel of ``next`` when it is a flattened convolution,
    e.g. (3, 3); its centre position is used.
    next_rows: (start, stop) when ``prev`` feeds only those inputs of ``next`` (counted
    after the centre position is taken), e.g. one direction of a bidirectional LSTM
    feeding the next layer; () for all. Entries stay in [0, 1]: no renormalisation.
    """

    prev: str
    next: str
    prev_side: Side = "U"
    next_side: Side = "V"
    next_kernel: tuple[int, ...] = ()
    next_rows: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.prev}->{self.next}"


@dataclass(frozen=True)
class PairGroup:
    """Pairs whose alignment matrices are averaged, e.g. W_Q <-> W_K head by head."""

    name: str
    pairs: tuple[Pair, ...]


def pair_alignment(spectra: Mapping[str, Spectrum], pair: Pair | PairGroup, k: int = 100) -> Tensor:
    """The (k', k') alignment matrix of ``pair`` from already computed spectra.

    For a PairGroup, the mean of its members' alignment matrices (same shapes required).
    """
    if isinstance(pair, PairGroup):
        return torch.stack([pair_alignment(spectra, p, k) for p in pair.pairs]).mean(0)
    a = _basis(spectra, pair.prev, pair.prev_side)
    b = _basis(spectra, pair.next, pair.next_side)
    if pair.next_kernel:
        b = centre_position(b, pair.next_kernel)
    if pair.next_rows:
        b = _rows(b, pair)
    return alignment_matrix(a, b, k)


def pair_space(spectra: Mapping[str, Spectrum], pair: Pair | PairGroup) -> int:
    """The dimension of the space the next matrix's compared vectors are unit vectors of
    (the whole flattened input of a convolution, before its centre position is taken):
    what independent random bases are drawn in, for the alignment's baseline."""
    if isinstance(pair, PairGroup):
        return pair_space(spectra, pair.pairs[0])
    return _basis(spectra, pair.next, pair.next_side).shape[-2]


def _rows(b: Tensor, pair: Pair) -> Tensor:
    start, stop = pair.next_rows
    if not 0 <= start < stop <= b.shape[0]:
        raise ValueError(
            f"pair '{pair.name}': rows {pair.next_rows} outside the {b.shape[0]} inputs "
            f"of '{pair.next}'"
        )
    return b[start:stop]


def centre_position(V: Tensor, kernel: tuple[int, ...]) -> Tensor:
    """(c_in * prod(kernel), r) -> (c_in, r): the rows of the kernel's centre position."""
    r = V.shape[-1]
    grid = V.reshape(-1, *kernel, r)  # (c_in, *kernel, r)
    for size in kernel:
        grid = grid[:, size // 2]
    return grid


def _basis(spectra: Mapping[str, Spectrum], name: str, side: Side) -> Tensor:
    if name not in spectra:
        raise KeyError(f"pair names matrix '{name}', which was not decomposed")
    vectors = spectra[name].U if side == "U" else spectra[name].V
    if vectors is None:
        raise ValueError(f"matrix '{name}' was decomposed without singular vectors")
    return vectors
