"""torch's intra-op thread count, set for a block of work and restored after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_thread_per_op() -> Iterator[None]:
    """torch's intra-op threads set to 1 inside, restored after. On one thread a matrix
    product sums in one order whatever the machine's core count, so what is computed
    inside does not depend on the thread count the process runs with."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
