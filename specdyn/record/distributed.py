"""Recording under ``torch.distributed``: which process writes, and sharded weights made whole.

- One writer: the process of global rank 0 (``RANK`` of the launcher before the process
  group starts) writes the run folder; a Recorder on any other rank writes nothing.
- DDP: the wrapped module (``.module``) is recorded, so matrices keep the model's names.
  Its weights are whole on every rank, so rank 0 records alone: no collective, and the
  other ranks may create no Recorder at all.
- FSDP2 (``fully_shard``): every parameter is a DTensor holding a shard. Each weight
  parameter is gathered whole once (``full_tensor()``, an all-gather) when its turn comes,
  its blocks are views of it, and it is dropped after its decomposition, so the extra
  memory is about one matrix. The gathers are collectives: every rank must call
  ``recorder.step`` with the same model and schedule, and they gather the same matrices
  in the same order (the order of ``named_modules()``); rank 0 decomposes and writes.
- FSDP1 (``FullyShardedDataParallel``): the full parameters are summoned
  (``summon_full_params``, every rank) for the record, so the extra memory is the model.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import Tensor, nn

_WRAPPERS = (nn.parallel.DistributedDataParallel, nn.DataParallel)  # whole under ``.module``


def active() -> bool:
    """Whether a ``torch.distributed`` process group is running in this process."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def rank() -> int:
    """This process's global rank: the process group's, else the launcher's ``RANK``
    (torchrun sets it before the group starts), else 0."""
    if active():
        return torch.distributed.get_rank()
    return int(os.environ.get("RANK", "0"))


def unwrap(model: nn.Module) -> nn.Module:
    """The module a DDP or DataParallel wrapper holds (``.module``), unwrapped repeatedly."""
    while isinstance(model, _WRAPPERS):
        model = model.module
    return model


def is_sharded(model: nn.Module) -> bool:
    """Whether any parameter of ``model`` is a DTensor (FSDP2, or tensor parallelism)."""
    if not active():
        return False
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters())


def is_fsdp1(model: nn.Module) -> bool:
    """Whether ``model`` holds a ``FullyShardedDataParallel`` (FSDP1) unit."""
    if not active():
        return False
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    return any(isinstance(m, FSDP) for m in model.modules())


def full_parameters(model: nn.Module) -> AbstractContextManager[object]:
    """Inside: FSDP1's full parameters on every rank (read only); otherwise nothing done."""
    if not is_fsdp1(model):
        return nullcontext()
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    return FSDP.summon_full_params(model, writeback=False)


def whole(W: Tensor) -> Tensor:
    """``W`` gathered whole if it is a DTensor (a collective: every rank must gather the
    same parameters in the same order), else ``W`` itself."""
    from torch.distributed.tensor import DTensor

    return W.full_tensor() if isinstance(W, DTensor) else W
