"""Recording spectra during training: schedules, the recorder, post-hoc agreement."""

from specdyn.record.recorder import Recorder
from specdyn.record.schedule import Schedule

__all__ = ["Recorder", "Schedule"]
