"""Recording spectra during training: schedules and the recorder (agreement: analyses/)."""

from specdyn.record.recorder import Recorder
from specdyn.record.schedule import Schedule

__all__ = ["Recorder", "Schedule"]
