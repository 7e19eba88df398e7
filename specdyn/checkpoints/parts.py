"""One checkpoint analysed by a worker, handed to the run's writer as a part file.

A worker (another process, or a Ray task on another node) reads and decomposes one
checkpoint and writes what :meth:`Recorder.record_spectra` needs, its spectra and metric
rows, to ``<part>.safetensors`` (values ``s/NAME``, vectors ``U/NAME`` and ``V/NAME``,
rows as JSON metadata), atomically: a part on disk is complete. The writer records parts
in step order and deletes them; a part left by an interrupted run is reused by the next.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from specdyn.checkpoints import hub
from specdyn.checkpoints.budget import check_sizes
from specdyn.checkpoints.mapping import Spec, plan_matrices, read
from specdyn.checkpoints.series import Checkpoint
from specdyn.errors import CheckpointError
from specdyn.record.stream import decompose_stream
from specdyn.spectral.svd import Spectrum
from specdyn.store.atomic import atomic_path

FOLDER = ".parts"  # under the run folder, removed once every part is recorded
# tasks -> (task, its part file or the exception that stopped it), in completion order
Executor = Callable[
    [Sequence["CheckpointTask"]], Iterator[tuple["CheckpointTask", Path | BaseException]]
]


@dataclass(frozen=True)
class CheckpointTask:
    """Analyse ``checkpoint`` into the part file ``part``; ``memory``: bytes it may need.
    A Hub revision (``revision``) is fetched by the worker itself, unless ``checkpoint``
    names files it can read (the revision the run was planned from); it must hold the
    matrices ``expected`` (name, shape), as the first revision does."""

    checkpoint: Checkpoint
    part: Path
    heads: bool
    top_k: int
    metrics: str
    budget: int
    memory: int
    revision: hub.Revision | None = None
    expected: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @property
    def step(self) -> int:
        return int(self.checkpoint.step or 0)

    def run(self, threads: int | None = None) -> Path:
        """Decompose the checkpoint and write its part (kept if already complete)."""
        if self.part.is_file():
            return self.part
        if threads:
            torch.set_num_threads(threads)
        self.part.parent.mkdir(parents=True, exist_ok=True)
        marker = self.part.with_suffix(".running")
        marker.write_text(str(os.getpid()))  # which process analyses it, while it does
        with self._local() as c, c.open() as source:
            specs = plan_matrices(source.tensors, c.hints, self.heads, base=c.base is not None)
            self._check_architecture(specs)
            check_sizes(source, specs, self.budget)
            spectra, rows = decompose_stream(
                self.step, read(source, specs), self.top_k, self.metrics
            )
        write_part(self.part, spectra, rows)
        marker.unlink(missing_ok=True)
        return self.part

    @contextmanager
    def _local(self) -> Iterator[Checkpoint]:
        """The checkpoint as files on this machine: a Hub revision is fetched here (and
        deleted after) unless the files it names are readable already."""
        c = self.checkpoint
        if self.revision is None or (c.weights and all(p.exists() for p in c.weights)):
            yield c
            return
        with hub.Fetcher(self.part.parent).fetched(self.revision) as fetched:
            yield fetched

    def _check_architecture(self, specs: list[Spec]) -> None:
        if not self.expected:
            return
        got = {s.name: tuple(s.shape) for s in specs}
        for name, shape in self.expected:
            if got.pop(name, None) != tuple(shape):
                raise CheckpointError(
                    f"checkpoints differ in architecture: '{self.checkpoint.path}' has no "
                    f"matrix '{name}' of shape {'x'.join(map(str, shape))}, as the first has"
                )
        if got:
            raise CheckpointError(
                f"checkpoints differ in architecture: '{self.checkpoint.path}' has a matrix "
                f"'{next(iter(got))}' that the first has not"
            )


def write_part(path: Path, spectra: dict[str, Spectrum], rows: list[dict]) -> None:
    tensors = {}
    for name, sp in spectra.items():
        tensors[f"s/{name}"] = sp.s.contiguous()
        if sp.U is not None and sp.V is not None:
            tensors[f"U/{name}"] = sp.U.contiguous()
            tensors[f"V/{name}"] = sp.V.contiguous()
    meta = {"order": json.dumps(list(spectra)), "rows": json.dumps(rows)}
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=meta)


def read_part(path: Path) -> tuple[dict[str, Spectrum], list[dict]]:
    """The spectra (in their order) and rows of a part file."""
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            keys = set(f.keys())
            spectra = {}
            for name in json.loads(meta["order"]):
                U = f.get_tensor(f"U/{name}") if f"U/{name}" in keys else None
                V = f.get_tensor(f"V/{name}") if f"V/{name}" in keys else None
                spectra[name] = Spectrum(f.get_tensor(f"s/{name}"), U, V)
            rows = json.loads(meta["rows"])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as err:
        raise CheckpointError(f"part file '{path}' is unreadable ({err}); delete it") from None
    return spectra, rows


def in_process(
    tasks: Sequence[CheckpointTask],
) -> Iterator[tuple[CheckpointTask, Path | BaseException]]:
    """The executor of one process: each task in turn, here."""
    for task in tasks:
        try:
            yield task, task.run()
        except Exception as err:  # handed to the writer, which records what came before
            yield task, err
