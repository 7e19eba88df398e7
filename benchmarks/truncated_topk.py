"""Top-k vectors of one large matrix: truncated (subspace iteration, certified) vs exact (eigh).

    python benchmarks/truncated_topk.py                    # 32000 x 8192 bf16, k = 100
    python benchmarks/truncated_topk.py --m 8000 --n 2048  # a quicker look

The matrix is G1 diag(s) with G1 Gaussian (m, n) / sqrt(m) and s_i = i^-0.7: a decaying,
trained-like spectrum. It is stored in bf16 like a checkpoint's lm_head. Timed, one thread,
in turn (the Gram matrix, which both paths share, once):
  1. the float64 Gram matrix from row blocks (spectral/large.py, `gram64`);
  2. exact path: `eigh` of the Gram matrix, its certificate, U = X V / s;
  3. truncated path: `eigvalsh` for the values, block subspace iteration for the top-k
     vectors until their residuals certify them, U = X V / s;
  4. what a flat spectrum wastes before its fallback: all MAX_ITERATIONS iterations.
The two paths' vectors are compared (largest 1 - |cos| between matching vectors).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from specdyn.spectral import large
from specdyn.spectral.exact import EPS64, GRAM_C


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, default=32000)
    ap.add_argument("--n", type=int, default=8192)
    ap.add_argument("--k", type=int, default=100)
    args = ap.parse_args()
    torch.set_num_threads(1)  # as `specdyn analyze` runs each decomposition
    print(f"torch {torch.__version__}, 1 thread; load average {_load()}", flush=True)
    gen = torch.Generator().manual_seed(0)
    s = torch.arange(1, args.n + 1, dtype=torch.float32) ** -0.7
    W = (torch.randn(args.m, args.n, generator=gen) / args.m**0.5 * s).bfloat16()
    print(f"W: {args.m} x {args.n} bf16, k = {args.k}", flush=True)
    G, g_wall, g_cpu = timed(lambda: large.gram64(W))
    print(f"Gram (float64, row blocks): {g_wall:7.1f} s wall {g_cpu:7.1f} s CPU", flush=True)
    n = args.n
    (s_e, V_e), e_wall, e_cpu = timed(lambda: large._values_and_vectors(W, G, args.k, n + 1))
    (s_t, V_t), t_wall, t_cpu = timed(lambda: large._values_and_vectors(W, G, args.k, 1))
    U, u_wall, u_cpu = timed(lambda: large._left_vectors(W, V_t))
    print(f"exact (eigh + certificate):  {e_wall:7.1f} s wall {e_cpu:7.1f} s CPU", flush=True)
    print(f"truncated (eigvalsh + iter): {t_wall:7.1f} s wall {t_cpu:7.1f} s CPU", flush=True)
    print(f"U = X V / s (either path):   {u_wall:7.1f} s wall {u_cpu:7.1f} s CPU", flush=True)
    total_e, total_t = g_cpu + e_cpu + u_cpu, g_cpu + t_cpu + u_cpu
    print(
        f"per matrix: exact {total_e:.1f} s CPU, truncated {total_t:.1f} s CPU "
        f"({total_e / total_t:.2f}x); after the Gram: {e_cpu / t_cpu:.2f}x",
        flush=True,
    )
    cos = (V_e.T @ V_t).diagonal().abs()  # type: ignore[union-attr]
    print(f"values identical: {torch.equal(s_e, s_t)}; max 1 - |cos| {float(1 - cos.min()):.1e}")
    lam = s_e.square()
    _, f_wall, f_cpu = timed(lambda: large.top_eigenvectors(G, lam, args.k, float("inf")))
    print(
        f"flat spectrum, {large.MAX_ITERATIONS} iterations wasted before the fallback: "
        f"{f_wall:.1f} s wall {f_cpu:.1f} s CPU (then the exact path); "
        f"threshold {GRAM_C * EPS64:.1e} s_1^2 Gram error; load average {_load()}",
        flush=True,
    )


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
