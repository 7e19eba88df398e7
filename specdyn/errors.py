"""Errors that specdyn raises on purpose.

Every one of them carries a one-line message that names the offending thing (a matrix, a
path, a key), so the CLI can print it as is and exit non-zero.
"""


class SpecdynError(Exception):
    """Base class: an error whose message is meant for the user, on one line."""


class NonFiniteMatrixError(SpecdynError, ValueError):
    """A weight matrix holds NaN or Inf entries."""


class SVDError(SpecdynError, RuntimeError):
    """An SVD failed to converge on every fallback."""


class ConfigError(SpecdynError, ValueError):
    """An unknown task, preset or key, or a value of the wrong type."""


class RunStoreError(SpecdynError, OSError):
    """A path that is not a run, or a run file that is missing or malformed."""


class DivergedError(SpecdynError, FloatingPointError):
    """The training loss became NaN or Inf."""


class RunWriteError(SpecdynError, OSError):
    """Writing a run file failed (disk full, permission denied, ...); nothing was half-written."""


class CheckpointError(SpecdynError, ValueError):
    """A checkpoint that cannot be read safely, or a series whose checkpoints disagree."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run after its resume state was saved at ``step``."""

    def __init__(self, signum: int, step: int):
        self.signum, self.step = signum, step
        super().__init__(f"stopped by {_signal_name(signum)} at step {step}, state saved")


def _signal_name(signum: int) -> str:
    import signal

    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
