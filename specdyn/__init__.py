"""specdyn: the spectral dynamics of weights.

Record the singular values and vectors of every weight matrix while a network trains, and
analyse them afterwards (Yunis et al., 2024, "Approaching Deep Learning through the
Spectral Dynamics of Weights").

Public API:
    weight_matrices(model)        name -> 2-D tensor for every weight matrix
    decompose(matrices, k)        one SVD per matrix, same shapes batched
    metrics                       effective_rank, alignment_matrix, agreement_matrix, ...
    Pair                          two consecutive matrices whose alignment is recorded
    metric(name)                  decorator: register a user-defined metric of a Spectrum
    Recorder, Schedule            record spectra from any training loop
    open_run(path)                read a run: config, history, metrics, spectra
    open_sweep(path)              read a sweep: every point's tables, means over seeds

Each name is imported on first use, so ``import specdyn`` costs nothing until then.
"""

from typing import TYPE_CHECKING

from specdyn.lazy import lazy_exports

if TYPE_CHECKING:
    from specdyn import metrics
    from specdyn.record.custom import MatrixSpectrum, UserMetricWarning, metric
    from specdyn.record.recorder import Recorder
    from specdyn.record.schedule import Schedule
    from specdyn.spectral.matrices import weight_matrices
    from specdyn.spectral.pairs import Pair
    from specdyn.spectral.svd import Spectrum, decompose
    from specdyn.store.reader import Run, open_run
    from specdyn.sweep.results import Sweep, open_sweep

__version__ = "0.1.0"

__getattr__ = lazy_exports(
    __name__,
    {
        "metrics": "",
        "metric": "specdyn.record.custom",
        "MatrixSpectrum": "specdyn.record.custom",
        "UserMetricWarning": "specdyn.record.custom",
        "Recorder": "specdyn.record.recorder",
        "Schedule": "specdyn.record.schedule",
        "Pair": "specdyn.spectral.pairs",
        "Spectrum": "specdyn.spectral.svd",
        "decompose": "specdyn.spectral.svd",
        "weight_matrices": "specdyn.spectral.matrices",
        "Run": "specdyn.store.reader",
        "open_run": "specdyn.store.reader",
        "Sweep": "specdyn.sweep.results",
        "open_sweep": "specdyn.sweep.results",
    },
)

__all__ = [
    "metrics",
    "metric",
    "MatrixSpectrum",
    "UserMetricWarning",
    "Recorder",
    "Schedule",
    "Pair",
    "Spectrum",
    "decompose",
    "weight_matrices",
    "Run",
    "open_run",
    "Sweep",
    "open_sweep",
]
