"""The pure numerical core: weight matrices, their SVDs, and metrics of those SVDs."""

from specdyn.spectral import metrics
from specdyn.spectral.matrices import canonical_name, weight_matrices
from specdyn.spectral.pairs import Pair, PairGroup, centre_position, pair_alignment
from specdyn.spectral.svd import Spectrum, check_finite, decompose

__all__ = [
    "metrics",
    "canonical_name",
    "weight_matrices",
    "Pair",
    "PairGroup",
    "centre_position",
    "pair_alignment",
    "Spectrum",
    "check_finite",
    "decompose",
]
