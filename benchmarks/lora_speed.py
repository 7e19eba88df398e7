"""A LoRA update's spectrum from its factors vs the SVD of the formed product.

    python benchmarks/lora_speed.py              # d = 4096, r = 16
    python benchmarks/lora_speed.py --d 1024     # a quicker look

dW = (alpha / r) B A with B (d, r), A (r, d) Gaussian. Timed on one thread: specdyn's
``lowrank_decompose`` (QR of B and A^T, an r x r core SVD; all d values, top-r vectors), and
the explicit route: form the d x d product, then ``torch.linalg.svd`` in float64 (and
``svdvals`` in float32, the cheapest explicit values). The largest difference between
the two routes' values is printed.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from specdyn.spectral.lowrank import LowRank, lowrank_decompose


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--d", type=int, default=4096)
    ap.add_argument("--r", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; load average {_load()}", flush=True)
    gen = torch.Generator().manual_seed(0)
    W = LowRank(
        torch.randn(args.d, args.r, generator=gen), torch.randn(args.r, args.d, generator=gen), 2.0
    )
    fac, f_wall, f_cpu = timed(lambda: lowrank_decompose("w", W, k=100))
    print(
        f"factored (QR + {args.r}x{args.r} SVD): {f_wall:8.3f} s wall {f_cpu:8.3f} s CPU",
        flush=True,
    )
    dense, d_wall, d_cpu = timed(lambda: torch.linalg.svd(W.dense().double(), full_matrices=False))
    print(
        f"explicit float64 SVD of {args.d}x{args.d}: {d_wall:8.1f} s wall {d_cpu:8.1f} s CPU",
        flush=True,
    )
    _, v_wall, v_cpu = timed(lambda: torch.linalg.svdvals(W.dense()))
    print(f"explicit float32 svdvals:          {v_wall:8.1f} s wall {v_cpu:8.1f} s CPU", flush=True)
    diff = float((fac.s.double() - dense[1]).abs().max() / dense[1][0])
    print(
        f"speed-up: {d_cpu / f_cpu:.0f}x CPU over the float64 SVD, {v_cpu / f_cpu:.0f}x over "
        f"float32 svdvals; largest value difference {diff:.1e} of s_1; load average {_load()}",
        flush=True,
    )


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
