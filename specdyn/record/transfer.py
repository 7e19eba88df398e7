"""Recorded tensors on their way to the host: on CUDA an asynchronous copy into pinned
memory, waited for only when the record is written; elsewhere the tensors themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class HostCopy:
    """Host tensors, complete once ``wait()`` returns them."""

    tensors: dict[str, Tensor]
    event: torch.cuda.Event | None = None

    def wait(self) -> dict[str, Tensor]:
        if self.event is not None:
            self.event.synchronize()
        return self.tensors


def to_host(tensors: Mapping[str, Tensor]) -> HostCopy:
    """Start copying ``tensors`` to the host; CUDA ones with ``non_blocking`` into pinned
    buffers, ordered after the kernels that made them on the device's current stream."""
    devices = [t.device for t in tensors.values() if t.is_cuda]
    if not devices:
        return HostCopy({k: t.detach() for k, t in tensors.items()})
    out: dict[str, Tensor] = {}
    for key, t in tensors.items():
        if t.is_cuda:
            out[key] = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
            out[key].copy_(t.detach(), non_blocking=True)
        else:
            out[key] = t.detach()
    event = torch.cuda.Event()
    event.record(torch.cuda.current_stream(devices[0]))
    return HostCopy(out, event)
