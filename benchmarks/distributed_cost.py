"""The recorder's cost on 2 processes (gloo, CPU): DDP and FSDP2 windows of the
``transformer-wikitext103`` ``cpu`` preset's shape, and the extra memory of FSDP's gathers.

    python benchmarks/distributed_cost.py [--records 4] [--repeats 3] [--out docs/benchmarks.md]

windows: the preset's model (4 blocks, d 128, 4 heads, vocab 2,048, context 128, batch 16
    per rank) on random tokens of its shape (its text is a separate download), its
    optimizer and its recorder (every 25 steps, top-64 vectors in float16, per-head
    blocks, its pairs); ``--records`` x 25 steps per window, bare and recorded interleaved
    (A B A B) from the same initial weights, under DDP and under FSDP2 (``fully_shard``
    on each block, then the whole model). Per window: the wall time of the slowest rank,
    the time rank 0 spent inside ``recorder.step()``, and the time a record adds to the
    slowest rank: the median over record steps of the step's time beyond the median other
    step of the same window, the largest over ranks (the bare window's same figure, the
    first steps' own cost, in brackets).
memory: one record of a ``fully_shard``-ed Transformer (the cpu preset, and d 768 with a
    8,192-token vocabulary), resident memory sampled every millisecond: the peak above the
    resident memory before the record, on each rank, next to the largest matrix, the
    whole model, and one process decomposing that matrix alone (what a record needs
    without sharding). glibc's ``MALLOC_MMAP_THRESHOLD_`` is pinned at 64 KiB, so that a
    freed block goes back to the system and resident memory follows live memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from run_all import load, machine, write_section  # noqa: E402

from specdyn.models.transformer_lm import TransformerLM, TransformerLMConfig  # noqa: E402
from specdyn.record import Recorder, Schedule  # noqa: E402
from specdyn.spectral import decompose  # noqa: E402
from specdyn.tasks import get_preset, get_task  # noqa: E402
from specdyn.train.optim import build_optimizer  # noqa: E402

TASK = "transformer-wikitext103"
CPU = torch.device("cpu")


def _preset():
    cfg = get_preset(TASK, "cpu")
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="synthetic"))


def _shard(model: nn.Module) -> nn.Module:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    for block in model.blocks:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def _window(exp, cfg, initial, mode: str, folder: Path | None, steps: int) -> tuple[float, ...]:
    """(wall s of the slowest rank, s inside the recorder on this rank, s a record step
    takes beyond the median other step, on the slowest rank) of one window."""
    model = TransformerLM(cfg.model)
    model.load_state_dict(initial)
    model = nn.parallel.DistributedDataParallel(model) if mode == "ddp" else _shard(model)
    optimizer = build_optimizer(model, cfg.optim)
    recorder = None
    if folder is not None:
        r = cfg.record
        schedule = Schedule(every=r.every)
        recorder = Recorder(folder, schedule, exp.pairs, r.top_k, True, None, torch.float16)
    inside, times = 0.0, []
    dist.barrier()
    start = time.perf_counter()
    for step in range(steps):
        t = time.perf_counter()
        if recorder is not None:
            recorder.step(step, model)
            inside += time.perf_counter() - t
        loss = exp.loss(model, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - t)
    every = cfg.record.every
    plain = statistics.median(t for i, t in enumerate(times) if i % every)
    added = statistics.median(t - plain for i, t in enumerate(times) if i % every == 0)
    out = torch.tensor([time.perf_counter() - start, added])
    dist.all_reduce(out, op=dist.ReduceOp.MAX)
    return float(out[0]), inside, float(out[1])


def windows(args: argparse.Namespace, tmp: Path) -> list[str]:
    cfg = _preset()
    exp = get_task(TASK).build(cfg, CPU)
    initial = {k: v.clone() for k, v in exp.model.state_dict().items()}
    every = cfg.record.every
    steps = args.records * every
    lines = [
        "| strategy | window: steps (records, every) | bare s (slowest rank) | recorded s "
        "| recorded / bare | rank 0 recorder time / rest | a record step beyond the others, "
        "slowest rank: recorded (bare) |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in ("ddp", "fsdp2"):
        _window(exp, cfg, initial, mode, None, every)  # warm-up
        bare, recorded, fractions, added, added_bare = [], [], [], [], []
        for i in range(args.repeats):
            wall, _, extra = _window(exp, cfg, initial, mode, None, steps)
            bare.append(wall)
            added_bare.append(extra)
            wall, inside, extra = _window(exp, cfg, initial, mode, tmp / f"{mode}-{i}", steps)
            recorded.append(wall)
            fractions.append(inside / (wall - inside))
            added.append(extra)
        b, r = statistics.median(bare), statistics.median(recorded)
        a, a0 = statistics.median(added), statistics.median(added_bare)
        lines.append(
            f"| {mode.upper()} | {steps} ({args.records}, every {every}) | {b:.2f} | {r:.2f} "
            f"| {100 * (r / b - 1):+.1f}% | {100 * statistics.median(fractions):.1f}% "
            f"| {1000 * a:.0f} ms ({1000 * a0:.0f} ms) |"
        )
        if dist.get_rank() == 0:
            print(lines[-1], flush=True)
    return lines


class PeakRSS:
    """Resident memory sampled every millisecond on a thread, from /proc/self/statm."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak, self._stop = 0, threading.Event()

    def rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def __enter__(self) -> PeakRSS:
        self.before = self.peak = self.rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, self.rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def memory(args: argparse.Namespace, tmp: Path) -> list[str]:
    shapes = {
        "cpu preset (4 x d 128, vocab 2,048), per-head blocks": (_preset().model, True),
        "d 768, 4 blocks, vocab 8,192": (
            TransformerLMConfig(vocab_size=8192, context=128, n_layers=4, d_model=768, n_heads=12),
            False,
        ),
    }
    lines = [
        "| model | whole model | largest matrix | rank 0 peak extra (gathers, decomposes, writes) "
        "| rank 1 peak extra (gathers only) | one process: decomposing the largest matrix |",
        "|---|---|---|---|---|---|",
    ]
    mb = 2**20
    for i, (label, (model_cfg, heads)) in enumerate(shapes.items()):
        torch.manual_seed(0)
        model = TransformerLM(model_cfg)
        whole = sum(p.numel() * p.element_size() for p in model.parameters())
        big = max((p for p in model.parameters() if p.ndim >= 2), key=lambda p: p.numel())
        largest, big = big.numel() * big.element_size(), big.detach().clone()
        with PeakRSS() as alone:
            decompose({"largest": big}, k=64)
        del big
        model = _shard(model)
        recorder = Recorder(tmp / f"memory-{i}", Schedule(at=(0,)), top_k=64, heads=heads)
        dist.barrier()
        with PeakRSS() as rss:
            recorder.step(0, model)
        extra = torch.tensor([float(rss.peak - rss.before)] * 2)
        extra[1 - dist.get_rank()] = 0
        dist.all_reduce(extra)
        lines.append(
            f"| {label} | {whole / mb:.1f} MiB | {largest / mb:.1f} MiB "
            f"| {extra[0] / mb:.1f} MiB | {extra[1] / mb:.1f} MiB "
            f"| {(alone.peak - alone.before) / mb:.1f} MiB |"
        )
        if dist.get_rank() == 0:
            print(lines[-1], flush=True)
        del model, recorder
    return lines


SECTIONS = {
    "distributed": ("Recorder cost on 2 processes (DDP, FSDP2)", windows),
    "fsdp-memory": ("FSDP2: extra memory of one record", memory),
}


def _rank(rank: int, port: int, args: argparse.Namespace, command: str) -> None:
    os.environ.update(GLOO_SOCKET_IFNAME="lo", RANK=str(rank), WORLD_SIZE="2")
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.only:
            title, fn = SECTIONS[key]
            start = machine()
            lines = fn(args, Path(tmp) / str(rank))
            if rank == 0:
                text = [
                    f"#### {title}",
                    "",
                    f"`{command}`; at the start: {start}; 2 processes "
                    f"(gloo), {args.threads} torch thread(s) each.",
                    "",
                    *lines,
                ]
                text += ["", f"Load average at the end of this section: {load()}.", ""]
                write_section(args.out, key, "\n".join(text))
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=4, help="records per window")
    parser.add_argument("--repeats", type=int, default=3, help="bare/recorded pairs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--only", nargs="*", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    # large blocks always mmap-ed, so that a freed one leaves the resident memory
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "65536")
    command = f"python benchmarks/distributed_cost.py {' '.join(sys.argv[1:])}".strip()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(_rank, args=(port, args, command), nprocs=2)


if __name__ == "__main__":
    main()
