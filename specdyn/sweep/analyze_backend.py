"""Executors for ``specdyn analyze --backend local|ray``: one task per checkpoint.

Each task (:class:`specdyn.checkpoints.parts.CheckpointTask`) reads and decomposes one
checkpoint into a part file under the run folder; ``specdyn analyze`` records the parts in
step order as they come. ``local`` with one worker runs the tasks in this process; with
more, each in a process of a ``forkserver`` pool. ``ray`` runs them as Ray tasks, each
asking for ``num_cpus`` = its torch threads and ``memory`` = what its largest matrices need
(``CheckpointTask.memory``), so Ray never runs more at once on a node than its memory
holds. On a cluster every node must reach the checkpoints and the run folder at the same
paths (a shared filesystem). A killed worker fails its task; the others go on, their parts
stay, and the same command resumes.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from specdyn.checkpoints.parts import CheckpointTask, Executor, in_process
from specdyn.errors import ConfigError
from specdyn.sweep.ray_backend import check_ray, connect
from specdyn.sweep.worker import threads_per_worker

Result = tuple[CheckpointTask, Path | BaseException]


def executor(backend: str, workers: int | None, address: str | None) -> Executor:
    """The executor of ``--backend``; ConfigError for a bad combination."""
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if backend == "ray":
        check_ray(address)
        return lambda tasks: _on_ray(tasks, workers, address)
    if backend != "local":
        raise ConfigError(f"unknown backend '{backend}'; known: local, ray")
    if address is not None:
        raise ConfigError("--address is for --backend ray")
    if not workers or workers == 1:
        return in_process
    return lambda tasks: _on_pool(tasks, workers)


def run_task(task: CheckpointTask, threads: int) -> Path:
    """What a worker runs (module level: picklable by reference)."""
    return task.run(threads)


def _on_pool(tasks: Sequence[CheckpointTask], workers: int) -> Iterator[Result]:
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["specdyn.checkpoints.parts"])
    threads = threads_per_worker(workers)
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: dict[Future[Path], CheckpointTask] = {
            pool.submit(run_task, t, threads): t for t in tasks
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                err = future.exception()
                yield task, err if err is not None else future.result()


def _on_ray(
    tasks: Sequence[CheckpointTask], workers: int | None, address: str | None
) -> Iterator[Result]:
    import ray

    started = connect(address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
        threads = threads_per_worker(workers, cpus) if workers else 1
        remote = ray.remote(max_retries=0)(run_task)
        queue = list(tasks)
        pending: dict[Any, CheckpointTask] = {}
        limit = workers or len(tasks)
        while queue or pending:
            while queue and len(pending) < limit:
                task = queue.pop(0)
                ref = remote.options(num_cpus=threads, memory=task.memory).remote(task, threads)
                pending[ref] = task
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                task = pending.pop(ref)
                yield task, _get(ray, ref)
    finally:
        if started:
            ray.shutdown()


def _get(ray: Any, ref: Any) -> Path | BaseException:
    try:
        return Path(ray.get(ref))
    except ray.exceptions.RayTaskError as err:  # the task raised: its own exception
        cause = err.cause if isinstance(err.cause, BaseException) else err
        return cause
    except ray.exceptions.RayError as err:  # the worker died, or its node did
        return err
