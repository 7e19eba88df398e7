"""Recording spectra during training: schedules and the recorder (agreement: analyses/)."""

from typing import TYPE_CHECKING

from specdyn.lazy import lazy_exports

if TYPE_CHECKING:
    from specdyn.record.recorder import Recorder
    from specdyn.record.schedule import Schedule

__getattr__ = lazy_exports(
    __name__,
    {
        "Recorder": "specdyn.record.recorder",
        "Schedule": "specdyn.record.schedule",
    },
)

__all__ = [
    "Recorder",
    "Schedule",
]
