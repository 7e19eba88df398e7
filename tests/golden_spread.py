"""How far the ``tiny`` runs' numbers move across CPU kernels, and the golden tolerances.

Float results of a seeded run depend on the machine's kernels: ATen's vector width
(``ATEN_CPU_CAPABILITY``), MKL's and oneDNN's code paths, and the thread count change
the order of floating-point sums. This script trains every task's ``tiny`` preset under
each environment of ``ENVIRONMENTS`` (each in its own interpreter, since the variables are
read at start-up), takes the spread of every float of ``test_golden.summarize`` per
(task, quantity), also counting the values already in ``golden_tiny_runs.json`` (taken on
another machine), and writes the tolerances ``test_golden`` uses into that file:
``FACTOR`` times the largest spread seen, never below ``FLOOR`` relative.

    PYTHONPATH=$PWD python tests/golden_spread.py          # ~6 min on 2 cores

Run it after regenerating the golden values (``python tests/test_golden.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
GOLDEN = HERE / "golden_tiny_runs.json"
FACTOR = 10.0  # margin over the measured spread, for kernels not seen here
FLOOR = 1e-6  # relative: the smallest tolerance, float32 rounding of a few operations

# name -> environment variables; "threads" is the torch thread count of the run
_AVX2_MACHINE = {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
ENVIRONMENTS: dict[str, dict[str, str]] = {
    f"{isa}-{threads}t": {"ATEN_CPU_CAPABILITY": isa, "threads": str(threads)}
    for isa in ("default", "avx2", "avx512")
    for threads in (1, 2)
}
ENVIRONMENTS |= {  # an AVX2-only machine: every library limited to AVX2
    f"avx2-machine-{t}t": {"ATEN_CPU_CAPABILITY": "avx2", "threads": str(t)} | _AVX2_MACHINE
    for t in (1, 2)
}


def category(path: str) -> str:
    """The quantity a summary path belongs to: ``history/loss``, ``metrics/alignment``,
    ``agreement_first``, ``artifacts/samples``, ... (one tolerance each, per task)."""
    top, _, rest = path.partition("/")
    if top == "history":
        return f"history/{rest.rsplit('/', 1)[-1]}"
    if top == "metrics":
        return f"metrics/{rest.rsplit('|', 1)[-1]}"
    if top == "artifacts":
        return f"artifacts/{rest}"
    return top


def floats(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """(path, value) for every float in a summary, paths like ``history[3]/loss``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from floats(item, f"{path}/{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from floats(item, f"{path}[{i}]")
    elif isinstance(value, float):
        yield path, value


def bare(path: str) -> str:
    """The path without its list indices, for ``category``."""
    out, depth = [], 0
    for ch in path:
        depth += ch == "["
        if not depth:
            out.append(ch)
        depth -= ch == "]"
    return "".join(out)


def spreads(summaries: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """task -> category -> {"abs": largest max-min, "rel": largest (max-min)/|max|}."""
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for task in summaries[0]:
        values: dict[str, list[float]] = defaultdict(list)
        for summary in summaries:
            for path, value in floats(summary[task]):
                values[path].append(value)
        for path, seen in values.items():
            cat = category(bare(path))
            width = max(seen) - min(seen)
            scale = max(abs(v) for v in seen)
            have = out[task].setdefault(cat, {"abs": 0.0, "rel": 0.0})
            have["abs"] = max(have["abs"], width)
            have["rel"] = max(have["rel"], width / scale if scale else 0.0)
    return dict(out)


def tolerances(spread: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """task -> category -> absolute tolerance: FACTOR x the spread (0 where none was seen;
    ``test_golden`` adds FLOOR relative to every comparison)."""
    return {
        task: {cat: FACTOR * s["abs"] for cat, s in sorted(cats.items())}
        for task, cats in sorted(spread.items())
    }


def _run_tiny(out: Path, env: dict[str, str]) -> dict[str, Any]:
    child = {k: v for k, v in env.items() if k != "threads"}
    code = (
        "import json, sys, tempfile, torch\n"
        "from pathlib import Path\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "from test_golden import summarize\n"
        "from specdyn.tasks import TASKS, get_preset\n"
        "from specdyn.train import train\n"
        f"torch.set_num_threads({env['threads']})\n"
        "runs = {}\n"
        "with tempfile.TemporaryDirectory() as tmp:\n"
        "    for task in sorted(TASKS):\n"
        "        cfg = get_preset(task, 'tiny')\n"
        "        runs[task] = summarize(train(cfg, Path(tmp) / task, torch.device('cpu'), False))\n"
        f"Path({str(out)!r}).write_text(json.dumps(runs))\n"
    )
    subprocess.run([sys.executable, "-c", code], env=os.environ | child, check=True)
    return json.loads(out.read_text())


def main() -> None:
    golden = json.loads(GOLDEN.read_text())
    summaries = [golden["runs"]]
    with tempfile.TemporaryDirectory() as tmp:
        for name, env in ENVIRONMENTS.items():
            print(f"{name}: {env}", flush=True)
            summaries.append(_run_tiny(Path(tmp) / f"{name}.json", env))
    spread = spreads(summaries)
    for task, cats in sorted(spread.items()):
        for cat, s in sorted(cats.items(), key=lambda kv: -kv[1]["rel"]):
            print(f"{task:24s} {cat:36s} abs {s['abs']:.3g}  rel {s['rel']:.3g}")
    golden["tolerances"] = tolerances(spread)
    golden["spread_environments"] = ["golden values (the machine that took them)", *ENVIRONMENTS]
    GOLDEN.write_text(json.dumps(golden, indent=1) + "\n")


if __name__ == "__main__":
    main()
