"""The pure numerical core: weight matrices, their SVDs, and metrics of those SVDs."""

from typing import TYPE_CHECKING

from specdyn.lazy import lazy_exports

if TYPE_CHECKING:
    from specdyn.spectral import metrics
    from specdyn.spectral.matrices import canonical_name, weight_matrices
    from specdyn.spectral.pairs import Pair, PairGroup, centre_position, pair_alignment
    from specdyn.spectral.svd import Spectrum, check_finite, decompose

__getattr__ = lazy_exports(
    __name__,
    {
        "metrics": "",
        "canonical_name": "specdyn.spectral.matrices",
        "weight_matrices": "specdyn.spectral.matrices",
        "Pair": "specdyn.spectral.pairs",
        "PairGroup": "specdyn.spectral.pairs",
        "centre_position": "specdyn.spectral.pairs",
        "pair_alignment": "specdyn.spectral.pairs",
        "Spectrum": "specdyn.spectral.svd",
        "check_finite": "specdyn.spectral.svd",
        "decompose": "specdyn.spectral.svd",
    },
)

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
