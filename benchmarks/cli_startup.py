"""How long the command line takes to start: `specdyn --help`, `specdyn tasks` and
`specdyn show RUN` against `python -c "import torch"`, side by side, in CPU seconds of each
child process (user + system, so that other jobs on the cores count little).

    python benchmarks/cli_startup.py [--repeats 7]

Targets (issue 19): `--help` at most 0.25x and `show RUN` at most 0.6x the CPU time of
importing torch. Each command runs ``--repeats`` times, interleaved, and the median counts.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def cpu_seconds(argv: list[str]) -> float:
    """User + system CPU seconds of one run of ``argv`` (its output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def specdyn() -> list[str]:
    """The installed `specdyn` command (what users type), else the module."""
    found = shutil.which("specdyn")
    return [found] if found else [sys.executable, "-m", "specdyn.cli.main"]


def startup_lines(repeats: int) -> list[str]:
    """The markdown table of medians and ratios."""
    with tempfile.TemporaryDirectory() as tmp:
        run = [*specdyn(), "run", "grokking", "--preset", "tiny", "--no-progress"]
        subprocess.run([*run, "--out", tmp], check=True, stdout=subprocess.DEVNULL)
        (run_dir,) = Path(tmp).iterdir()
        commands = {
            'python -c "import torch"': [sys.executable, "-c", "import torch"],
            "specdyn --help": [*specdyn(), "--help"],
            "specdyn tasks": [*specdyn(), "tasks"],
            "specdyn show RUN": [*specdyn(), "show", str(run_dir)],
            "specdyn show RUN --baselines": [*specdyn(), "show", str(run_dir), "--baselines"],
        }
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeats):  # interleaved: a burst of load hits every command alike
            for name, argv in commands.items():
                seconds[name].append(cpu_seconds(argv))
    base = statistics.median(seconds['python -c "import torch"'])
    lines = [
        f"CPU seconds (user + system) per start, median of {repeats}; ratio to importing torch:",
        "",
        "| command | CPU s | ratio | target |",
        "|---|---|---|---|",
    ]
    targets = {"specdyn --help": "<= 0.25", "specdyn show RUN": "<= 0.6"}
    for name, values in seconds.items():
        median = statistics.median(values)
        target = targets.get(name, "")
        lines.append(f"| `{name}` | {median:.3f} | {median / base:.2f} | {target} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of each command (7)")
    print("\n".join(startup_lines(parser.parse_args().repeats)))


if __name__ == "__main__":
    main()
