"""Running a test's body on 2 real processes joined by a gloo process group on 127.0.0.1.

``launch(fn, *args)`` runs ``fn(rank, *args)`` in 2 processes forked from a server that
imported torch once (children start in milliseconds); ``torchrun(script_args)`` runs a
script of ``distributed_scripts.py`` under ``torchrun --nproc_per_node 2``. Both wait at
most ``timeout`` seconds, then kill every process they started (a deadlock fails the test
instead of hanging it), and raise if any process failed.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
WORLD = 2
ENV = {"GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(fn, *args, timeout: float = 60) -> None:
    """``fn(rank, *args)`` on each of 2 processes, inside an initialised gloo group."""
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["torch", "torch.distributed", "specdyn"])
    port = free_port()
    procs = [
        context.Process(target=_child, args=(rank, port, fn, args), daemon=True)
        for rank in range(WORLD)
    ]
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout)  # the whole group is late at most about 2 x timeout
        codes = [p.exitcode for p in procs]
        if None in codes:
            raise TimeoutError(f"{fn.__name__}: ranks still ran after {timeout} s: {codes}")
        if any(codes):
            raise AssertionError(f"{fn.__name__}: ranks exited with {codes}")
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join()


def _child(rank: int, port: int, fn, args: tuple) -> None:
    os.environ.update(ENV, RANK=str(rank), WORLD_SIZE=str(WORLD))
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD
    )
    try:
        fn(rank, *args)
        torch.distributed.barrier()
    finally:
        torch.distributed.destroy_process_group()


def torchrun(args: list[str], timeout: float = 120) -> None:
    """``torchrun --standalone --nproc_per_node 2 distributed_scripts.py ARGS``."""
    script = Path(__file__).with_name("distributed_scripts.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc_per_node={WORLD}", str(script), *args]
    env = {**os.environ, **ENV}
    proc = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as late:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        tail = out.decode()[-3000:]
        raise TimeoutError(f"torchrun {args} still ran after {timeout} s:\n{tail}") from late
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.returncode:
        raise AssertionError(
            f"torchrun {args} exited with {proc.returncode}:\n{out.decode()[-3000:]}"
        )
