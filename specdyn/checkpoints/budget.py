"""How much memory a checkpoint's tensors may take, checked from headers before any read.

A stored tensor is read whole, then its Gram matrix of the short side is formed in float64
(r x r, r = min(m, n)) and decomposed, so decomposing one tensor needs about its declared
size plus ``GRAM_COPIES`` r x r float64 matrices. A tensor whose need exceeds the budget
(``--max-memory``; by default what the machine has free when the analysis starts) is
refused with its name, shape and sizes before anything is allocated.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from specdyn.checkpoints.readers import TensorInfo, WeightSource
from specdyn.errors import CheckpointError

GRAM_COPIES = 2  # the Gram matrix and eigh's eigenvectors
_ITEMSIZE = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2}
_ITEMSIZE |= {"float64": 8, "int64": 8, "float32": 4, "int32": 4, "float16": 2, "bfloat16": 2}


def free_memory() -> int:
    """Bytes the machine has available now (MemAvailable; all physical memory where the
    kernel does not say)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def declared_bytes(info: TensorInfo) -> int:
    """The size a header declares for one tensor."""
    numel = 1
    for d in info.shape:
        numel *= d
    return numel * _ITEMSIZE.get(info.dtype, 1)


def needed_bytes(info: TensorInfo, shapes: Iterable[tuple[int, int]]) -> int:
    """About what decomposing the matrices ``shapes`` read from one stored tensor takes:
    the tensor plus the float64 Gram matrices of the largest of them."""
    r = max((min(shape) for shape in shapes), default=0)
    return declared_bytes(info) + GRAM_COPIES * 8 * r * r


def check_sizes(source: WeightSource, specs: Iterable[Any], max_bytes: int) -> None:
    """CheckpointError naming the first stored tensor read by ``specs`` (anything with
    ``keys`` and a 2-D ``shape``) whose decomposition needs more than ``max_bytes``."""
    shapes: dict[str, list[tuple[int, int]]] = {}
    for spec in specs:
        for key in spec.keys:
            shapes.setdefault(key, []).append(spec.shape)
    for key, matrices in shapes.items():
        info = source.tensors[key]
        need = needed_bytes(info, matrices)
        if need > max_bytes:
            shape = "x".join(map(str, info.shape))
            raise CheckpointError(
                f"tensor '{key}' of '{source.file_of(key)}' is {shape} {info.dtype} "
                f"({format_bytes(declared_bytes(info))}; about {format_bytes(need)} to "
                f"decompose), more than the {format_bytes(max_bytes)} specdyn may use; "
                "refused before reading it (raise --max-memory if the machine has it)"
            )


def format_bytes(n: float) -> str:
    """1.5 GB, 300 MB, 12 kB (decimal units, like --max-memory takes)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


BASE_BYTES = 10**9  # a worker process: torch, pandas, pyarrow and its buffers


def task_memory(checkpoint: Any, specs: Iterable[Any]) -> int:
    """Bytes a worker analysing one checkpoint of ``specs`` may take: BASE_BYTES plus two
    decompositions at once of its largest matrix."""
    with checkpoint.open() as source:
        needs = [needed_bytes(source.tensors[s.keys[0]], [s.shape]) for s in specs]
    return BASE_BYTES + 2 * max(needs, default=0)
