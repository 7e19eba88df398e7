"""SIGINT and SIGTERM during training: finish the step, save the resume state, stop.

The first signal only sets a flag; the loop looks at it between steps, where the model,
optimizer, schedule and RNG are consistent, saves them as a periodic save would, and raises
:class:`~specdyn.errors.Interrupted`. A second signal interrupts at once (the last saved
state is still there to resume from). Handlers are installed only in the main thread, and
the previous ones come back when the loop ends.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from specdyn.errors import Interrupted
from specdyn.train.state import save_state

if TYPE_CHECKING:
    from specdyn.train.callbacks import TrainState

SIGNALS = (signal.SIGINT, signal.SIGTERM)
Loop = TypeVar("Loop", bound=Callable[..., Any])


class StopRequest:
    """Set by a signal handler; ``signum`` is the first signal received (0: none)."""

    def __init__(self) -> None:
        self.signum = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum:  # a second signal: stop now
            raise KeyboardInterrupt
        self.signum = signum

    def here(self, state: TrainState) -> None:
        """If a signal came, save the resume state at ``state.step`` and raise Interrupted."""
        if not self.signum:
            return
        state.flush()
        save_state(state.writer, state.step, state.model, state.optimizer, state.scheduler)
        raise Interrupted(self.signum, state.step)


def stop_on_signals(loop: Loop) -> Loop:
    """Run ``loop(cfg, exp, state, ...)`` with SIGINT and SIGTERM setting ``state.stop``."""

    @functools.wraps(loop)
    def wrapped(cfg: Any, exp: Any, state: TrainState, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return loop(cfg, exp, state, *args, **kwargs)
        previous = {s: signal.signal(s, state.stop.handle) for s in SIGNALS}
        try:
            return loop(cfg, exp, state, *args, **kwargs)
        finally:
            for s, handler in previous.items():
                signal.signal(s, signal.SIG_DFL if handler is None else handler)

    return wrapped  # type: ignore[return-value]
