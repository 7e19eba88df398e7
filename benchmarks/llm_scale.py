"""`specdyn analyze` on a sharded LLaMA-shaped checkpoint series: time and resident memory,
with WeightWatcher on the same weights side by side.

    python benchmarks/llm_scale.py                          # TinyLlama-1.1B shapes, 3 checkpoints
    python benchmarks/llm_scale.py --hidden 3200 --intermediate 8640 --layers 26 \\
        --heads 32 --kv-heads 32 --modes values --ww-layers 0  # a 3B-shaped series

It writes (once, under --root) a series of --checkpoints bf16 checkpoints of a LLaMA decoder
(embed_tokens, per layer q/k/v/o and gate/up/down projections and two norms, a final norm,
an untied lm_head), each in --shards safetensors shards with a model.safetensors.index.json
and a config.json, in checkpoint-N/ folders as a Trainer writes them. Weights are Gaussian
with three planted rank-one spikes per matrix, so the spectra have outliers.

Then, each in its own process (`python -m specdyn.cli.main analyze ...`):
  - values only: ``--top-k 0 --metrics all``; and/or with vectors: ``--top-k 100 --metrics all``;
    wall and CPU seconds (all of it, and per checkpoint), peak resident memory: the largest
    RSS sampled every 0.1 s (what `top` shows, memory-mapped file pages included) and the
    kernel's ru_maxrss of the process;
  - WeightWatcher 0.7.7 ``analyze()`` (its defaults) on the first --ww-layers decoder layers of
    the first checkpoint loaded as float32 nn.Linear modules, and specdyn values-only on the
    same matrices (a checkpoint of only those tensors), for a CPU-second comparison.
The machine's load average is printed before and after (the cores may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import torch
from safetensors.torch import load_file, save_file

SPIKES = 3


def shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of a LLaMA decoder, in the order Hugging Face stores them."""
    d, f, v = args.hidden, args.intermediate, args.vocab
    kv = d // args.heads * args.kv_heads
    out: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (v, d)}
    for i in range(args.layers):
        p = f"model.layers.{i}"
        out |= {
            f"{p}.self_attn.q_proj.weight": (d, d),
            f"{p}.self_attn.k_proj.weight": (kv, d),
            f"{p}.self_attn.v_proj.weight": (kv, d),
            f"{p}.self_attn.o_proj.weight": (d, d),
            f"{p}.mlp.gate_proj.weight": (f, d),
            f"{p}.mlp.up_proj.weight": (f, d),
            f"{p}.mlp.down_proj.weight": (d, f),
            f"{p}.input_layernorm.weight": (d,),
            f"{p}.post_attention_layernorm.weight": (d,),
        }
    return out | {"model.norm.weight": (d,), "lm_head.weight": (v, d)}


def weight(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    if len(shape) == 1:
        return torch.ones(shape, dtype=torch.bfloat16)
    m, n = shape
    W = torch.randn(m, n, generator=gen) / n**0.5
    for j in range(SPIKES):  # rank-one spikes well above the bulk edge (about 1 + sqrt(m/n))
        u = torch.randn(m, 1, generator=gen) / m**0.5
        w = torch.randn(1, n, generator=gen) / n**0.5
        W.addmm_(u, w, alpha=3.0 * (1 + (m / n) ** 0.5) * (SPIKES - j))
    return W.bfloat16()


def write_series(root: Path, args: argparse.Namespace) -> Path:
    series = root / "series"
    table = shapes(args)
    stamp = json.dumps({k: list(v) for k, v in table.items()} | {"n": args.checkpoints})
    if (series / "shapes.json").is_file() and (series / "shapes.json").read_text() == stamp:
        return series
    names = list(table)
    per = -(-len(names) // args.shards)
    for c in range(args.checkpoints):
        step = 1000 * (c + 1)
        folder = series / f"checkpoint-{step}"
        folder.mkdir(parents=True, exist_ok=True)
        gen = torch.Generator().manual_seed(step)
        weight_map = {}
        for s in range(args.shards):
            file = f"model-{s + 1:05d}-of-{args.shards:05d}.safetensors"
            part = {k: weight(table[k], gen) for k in names[s * per : (s + 1) * per]}
            save_file(part, folder / file, metadata={"format": "pt"})
            weight_map |= dict.fromkeys(part, file)
            del part
        index = {"metadata": {}, "weight_map": weight_map}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
        config = {
            "model_type": "llama",
            "hidden_size": args.hidden,
            "intermediate_size": args.intermediate,
            "num_hidden_layers": args.layers,
            "num_attention_heads": args.heads,
            "num_key_value_heads": args.kv_heads,
            "vocab_size": args.vocab,
        }
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        print(f"wrote {folder}", flush=True)
    (series / "shapes.json").write_text(stamp)
    return series


def measured(argv: list[str], cwd: Path | None = None) -> dict:
    """Run ``argv``; wall and CPU seconds, peak RSS (sampled and ru_maxrss), and the wall and
    CPU time at which each 'step ' line appeared."""
    start = time.perf_counter()
    env = os.environ | {"PYTHONUNBUFFERED": "1"}  # each step line as it is printed
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=cwd, env=env)
    ps = psutil.Process(proc.pid)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], ps.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True).start()
    marks, lines = [], []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.strip())
        if line.startswith("step "):
            cpu = ps.cpu_times()
            marks.append((time.perf_counter() - start, cpu.user + cpu.system))
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    if status != 0:
        raise SystemExit(f"{argv} failed with status {status}")
    return {
        "wall": time.perf_counter() - start,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_sampled": peak[0],
        "ru_maxrss": usage.ru_maxrss * 1024,
        "marks": marks,
        "lines": lines,
    }


def analyze_argv(path: Path, out: Path, top_k: int) -> list[str]:
    return [sys.executable, "-m", "specdyn.cli.main", "analyze", str(path), "--out", str(out)]


def report(label: str, r: dict, n: int, bound: float) -> None:
    gb = 1e9
    print(
        f"{label}: {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU for {n} checkpoint(s) "
        f"({r['wall'] / n:.1f} s wall / {r['cpu'] / n:.1f} s CPU each); peak RSS "
        f"{r['peak_sampled'] / gb:.2f} GB sampled, {r['ru_maxrss'] / gb:.2f} GB ru_maxrss "
        f"(bound {bound / gb:.2f} GB)",
        flush=True,
    )
    marks = r["marks"]
    if len(marks) > 1:
        gaps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(marks, marks[1:], strict=False)]
        print(
            "  between step lines (wall/CPU s): " + ", ".join(f"{w:.1f}/{c:.1f}" for w, c in gaps),
            flush=True,
        )


WW_SCRIPT = """
import logging, sys, time, warnings
warnings.simplefilter("ignore")
logging.getLogger("weightwatcher").setLevel(logging.ERROR)
import torch, weightwatcher
from safetensors.torch import load_file
from torch import nn
state = load_file(sys.argv[1])
model = nn.ModuleDict()
for i, (name, W) in enumerate(state.items()):
    layer = nn.Linear(W.shape[1], W.shape[0], bias=False)
    layer.weight.data = W.float()
    model[f"m{i}"] = layer
del state
t = time.process_time()
details = weightwatcher.WeightWatcher(model=model).analyze()
print(f"weightwatcher: {len(details)} layers, {time.process_time() - t:.1f} s CPU in analyze()")
"""


SD_SCRIPT = """
import sys, time
from specdyn.checkpoints.analyze import AnalyzeOptions, analyze
t = time.process_time()
analyze([sys.argv[1]], sys.argv[2], options=AnalyzeOptions(top_k=0, metrics="all"))
print(f"specdyn: {time.process_time() - t:.1f} s CPU in analyze()")
"""


def side_by_side(root: Path, series: Path, args: argparse.Namespace) -> None:
    """WeightWatcher and specdyn values-only on the same matrices of checkpoint 1."""
    first = sorted(series.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[0]
    keep = [f"model.layers.{i}." for i in range(args.ww_layers)]
    subset = {}
    for shard in sorted(first.glob("*.safetensors")):
        part = load_file(shard)
        subset |= {k: v for k, v in part.items() if v.ndim == 2 and k.startswith(tuple(keep))}
    path = root / "subset" / "model.safetensors"
    path.parent.mkdir(exist_ok=True)
    save_file(subset, path)
    print(
        f"side by side: {len(subset)} matrices of decoder layers 0-{args.ww_layers - 1}", flush=True
    )
    ww = measured([sys.executable, "-c", WW_SCRIPT, str(path)])
    out = root / "subset-run"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    sd = measured([sys.executable, "-c", SD_SCRIPT, str(path), str(out)])
    for label, r in (("WeightWatcher analyze()", ww), ("specdyn analyze values-only", sd)):
        print(
            f"  {label}: {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU (whole process, imports "
            f"and loading included; {r['lines'][-1]}); peak RSS {r['ru_maxrss'] / 1e9:.2f} GB",
            flush=True,
        )
    inner = [float(r["lines"][-1].split(" s CPU")[0].split()[-1]) for r in (ww, sd)]
    print(
        f"  CPU seconds: {ww['cpu'] / sd['cpu']:.1f}x fewer for specdyn (whole processes), "
        f"{inner[0] / max(inner[1], 0.05):.1f}x inside the analyze calls",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--intermediate", type=int, default=5632)
    ap.add_argument("--layers", type=int, default=22)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--checkpoints", type=int, default=3)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument(
        "--modes", default="values,vectors", help="values (--top-k 0), vectors (100), or none"
    )
    ap.add_argument("--ww-layers", type=int, default=2, help="decoder layers for WeightWatcher")
    ap.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "specdyn-llm")
    args = ap.parse_args()
    table = shapes(args)
    params = sum(torch.Size(s).numel() for s in table.values())
    largest = max(torch.Size(s).numel() for s in table.values()) * 2  # bf16
    bound = 3 * largest + 1.5e9
    print(
        f"torch {torch.__version__}; {os.cpu_count()} cores; load average {_load()}\n"
        f"{params / 1e9:.2f}B parameters (bf16), largest tensor {largest / 1e6:.0f} MB; "
        f"{args.checkpoints} checkpoints of {args.shards} shards",
        flush=True,
    )
    args.root.mkdir(parents=True, exist_ok=True)
    series = write_series(args.root, args)
    for mode in [m for m in args.modes.split(",") if m not in ("", "none")]:
        k = 0 if mode == "values" else 100
        out = args.root / f"run-{mode}"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        argv = analyze_argv(series, out, k) + ["--top-k", str(k), "--metrics", "all"]
        print(f"$ {' '.join(argv[1:])}", flush=True)
        r = measured(argv, cwd=Path(__file__).resolve().parents[1])
        report(f"specdyn analyze --top-k {k}", r, args.checkpoints, bound)
    if args.ww_layers:
        side_by_side(args.root, series, args)
    print(f"load average at the end {_load()}", flush=True)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
