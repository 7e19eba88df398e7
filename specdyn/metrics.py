"""Public home of the spectral metrics: ``specdyn.metrics.effective_rank`` and friends.

The implementations live in :mod:`specdyn.spectral.metrics`; see there for shapes.
"""

from specdyn.spectral.metrics import *  # noqa: F403
from specdyn.spectral.metrics import __all__  # noqa: F401
