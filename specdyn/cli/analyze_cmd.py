"""``specdyn analyze PATH...``: a series of checkpoints becomes a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from specdyn.cli.common import Subparsers
from specdyn.errors import ConfigError


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "analyze",
        help="record the spectra of existing checkpoints (safetensors, HF, Trainer, PyTorch)",
    )
    p.add_argument(
        "paths",
        nargs="+",
        help="checkpoint files or folders, or hf:OWNER/NAME@REV,... (see docs/byo.md)",
    )
    p.add_argument("--out", type=Path, help="run folder to write (default: runs/analyze-NAME)")
    p.add_argument("--steps", help="steps of the checkpoints, comma-separated, in order")
    p.add_argument(
        "--top-k",
        type=int,
        default=100,
        help="singular vectors kept (default: 100; 0: values only, no alignment or agreement)",
    )
    p.add_argument(
        "--pairs", default="auto", help="auto, none, or a JSON file of pairs (default: auto)"
    )
    p.add_argument(
        "--metrics",
        choices=("default", "all"),
        default="default",
        help="all: also alpha, alpha_weighted, log norms, MP outliers, num_spikes, rand_distance",
    )
    p.add_argument("--heads", action="store_true", help="also per-head attention blocks")
    p.add_argument(
        "--metric",
        dest="user_metrics",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="also record a user-defined metric (or an installed one by name; repeatable)",
    )
    p.add_argument(
        "--base",
        help="for LoRA adapters: the base model folder; the merged W + dW is recorded too",
    )
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        help="analyse the checkpoints of a series in parallel, one task per checkpoint: "
        "local processes or Ray tasks (default: one process)",
    )
    p.add_argument("--workers", type=int, help="checkpoints analysed at once (default: 1 local)")
    p.add_argument(
        "--address", help="with --backend ray: auto or HOST:PORT of a running Ray cluster"
    )
    p.add_argument(
        "--keep",
        type=int,
        default=1,
        help="hf: series in one process: downloaded revisions on disk at once, besides your "
        "HF cache; more than 1: the next download while one is analysed (default: 1); with "
        "--backend each running task holds its own revision",
    )
    p.add_argument(
        "--max-memory",
        type=memory_size,
        help="memory one tensor's decomposition may take, e.g. 2GB, 512MB (default: what the "
        "machine has free); a larger tensor is refused from its header, before any read",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    steps = _steps(args.steps)
    missing = [p for p in args.paths if not p.startswith("hf:") and not Path(p).exists()]
    if missing:  # said before torch is imported, as every usage mistake is
        raise ConfigError(f"'{missing[0]}' does not exist")
    from specdyn.checkpoints.analyze import AnalyzeOptions, analyze
    from specdyn.cli.show_cmd import summary
    from specdyn.store.reader import open_run

    out = args.out or Path("runs") / f"analyze-{_name(args.paths[0])}"
    options = AnalyzeOptions(
        args.top_k, args.pairs, args.metrics, args.heads, tuple(args.user_metrics), args.base
    )
    print(out, flush=True)
    execute = None
    if args.backend is not None or args.workers is not None or args.address is not None:
        from specdyn.sweep.analyze_backend import executor

        execute = executor(args.backend or "local", args.workers, args.address)
    analyze(args.paths, out, steps, options, print, args.max_memory, execute, args.keep)
    print(summary(open_run(out)))
    return 0


def _name(path: str) -> str:
    """A default run name: the folder's or file's name, or the Hub repository's."""
    if path.startswith("hf:"):
        return path.removeprefix("hf:").partition("@")[0].rsplit("/", 1)[-1]
    return Path(path).resolve().name


def _steps(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        steps = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--steps takes comma-separated integers, got '{text}'") from None
    if any(s < 0 for s in steps) or steps != sorted(set(steps)):
        raise ConfigError(
            f"--steps must be non-negative and strictly increasing (the checkpoints are "
            f"taken in order), got '{text}'"
        )
    return steps


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def memory_size(text: str) -> int:
    """Bytes from '2GB', '1.5 GiB', '512MB', '100000' (decimal units; KiB, MiB, GiB binary)."""
    number = text.strip().upper().rstrip("BIGKMT ").strip()
    unit = text.strip().upper()[len(number) :].strip()
    try:
        value = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(
            f"--max-memory takes a size such as 2GB or 512MB, got '{text}'"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"--max-memory must be positive, got '{text}'")
    return int(value)
