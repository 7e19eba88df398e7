"""specdyn analyze vs WeightWatcher analyze() on one Transformer weight stack, side by side.

    python benchmarks/analyze_vs_weightwatcher.py            # 12 blocks, d=768: 48 matrices
    python benchmarks/analyze_vs_weightwatcher.py --blocks 2 # a quicker look

The stack is GPT-2-small shaped: per block a (3d, d) QKV, a (d, d) output projection and a
(4d, d) / (d, 4d) MLP, all nn.Linear, randomly initialised with heavier-tailed rows so the
power-law fits have tails. One process times, in turn:
  1. WeightWatcher().analyze(model) with its defaults (alpha, alpha_weighted, log norms);
  2. specdyn analyze of the same weights saved as safetensors, --metrics all (the five
     paper scalars, alpha, alpha_weighted, log norms, MP outliers, rand_distance, the
     top-k singular vectors, auto pairs and their alignments, agreement), top_k 100;
     then the same with --top-k 0 (values only: what WeightWatcher computes);
  3. specdyn analyze of a series of --series such checkpoints (different seeds), with the
     wall and CPU time of each checkpoint inside the series (from one to the next), so
     that a growing per-checkpoint cost would show.
Wall and CPU seconds are printed for each, the largest relative alpha difference, and the
load average before and after (the machine may be shared).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from specdyn.checkpoints.analyze import AnalyzeOptions, analyze
from specdyn.store.reader import open_run


class Block(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.attn_qkv = nn.Linear(d, 3 * d)
        self.attn_out = nn.Linear(d, d)
        self.mlp_in = nn.Linear(d, 4 * d)
        self.mlp_out = nn.Linear(4 * d, d)


def stack(blocks: int, d: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.ModuleDict({"h": nn.ModuleList(Block(d) for _ in range(blocks))})
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:  # rows of uneven scale: heavier tails, as in trained layers
                p.mul_(torch.rand(p.shape[0], 1) ** 3 * 4)
    return model


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=12)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--series", type=int, default=10)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    import weightwatcher

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"weightwatcher {weightwatcher.__version__}; load average {_load()}",
        flush=True,
    )
    root = Path(tempfile.mkdtemp(prefix="specdyn-bench-"))
    models = [stack(args.blocks, args.d, seed) for seed in range(args.series)]
    (root / "series").mkdir()
    for i, m in enumerate(models):
        state = {k: v.contiguous() for k, v in m.state_dict().items()}
        save_file(state, root / "series" / f"step_{i}.safetensors")
    n = sum(p.ndim == 2 for p in models[0].parameters())
    print(f"{n} matrices, {args.blocks} blocks, d={args.d}", flush=True)

    details, ww_wall, ww_cpu = timed(lambda: weightwatcher.WeightWatcher(model=models[0]).analyze())
    print(f"WeightWatcher analyze():        {ww_wall:8.1f} s wall {ww_cpu:8.1f} s CPU", flush=True)
    opts = AnalyzeOptions(top_k=100, metrics="all")
    one = root / "series" / "step_0.safetensors"
    run, sd_wall, sd_cpu = timed(lambda: analyze([one], root / "one", options=opts))
    print(f"specdyn analyze, 1 checkpoint:  {sd_wall:8.1f} s wall {sd_cpu:8.1f} s CPU", flush=True)
    print(f"  speed-up: {ww_wall / sd_wall:.1f}x wall, {ww_cpu / sd_cpu:.1f}x CPU", flush=True)
    lean = AnalyzeOptions(top_k=0, metrics="all")
    _, v_wall, v_cpu = timed(lambda: analyze([one], root / "values", options=lean))
    print(f"  values only (--top-k 0):      {v_wall:8.1f} s wall {v_cpu:8.1f} s CPU", flush=True)
    print(f"  speed-up: {ww_wall / v_wall:.1f}x wall, {ww_cpu / v_cpu:.1f}x CPU", flush=True)
    metrics = open_run(run).metrics
    ours = metrics[metrics["metric"] == "alpha"].set_index("matrix")["value"]
    diffs = [abs(ours[r.longname] / r.alpha - 1) for r in details.itertuples()]
    print(
        f"  {len(diffs)} layers fitted by both; largest relative alpha difference {max(diffs):.2e}",
        flush=True,
    )
    if args.series < 2:
        return
    marks: list[tuple[float, float]] = []
    series = lambda: analyze(  # noqa: E731
        [root / "series"],
        root / "many",
        options=opts,
        log=lambda line: (
            marks.append((time.perf_counter(), time.process_time()))
            if line.startswith("step ")
            else None
        ),
    )
    _, s_wall, s_cpu = timed(series)
    marks.append((time.perf_counter(), time.process_time()))  # the last with agreement
    print(
        f"specdyn analyze, {args.series} checkpoints: {s_wall:8.1f} s wall {s_cpu:8.1f} s CPU "
        f"({s_wall / sd_wall:.1f}x wall, {s_cpu / sd_cpu:.1f}x CPU of one checkpoint)",
        flush=True,
    )
    gaps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(marks, marks[1:], strict=False)]
    print(
        "  per checkpoint in the series (wall/CPU s): "
        + ", ".join(f"{w:.1f}/{c:.1f}" for w, c in gaps),
        flush=True,
    )
    print(f"load average at the end {_load()}", flush=True)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
