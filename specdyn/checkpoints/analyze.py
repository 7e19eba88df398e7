"""``specdyn analyze``: a series of checkpoints becomes a run folder.

Every input is checked before anything is written (formats, steps, one architecture,
finite weights); then each checkpoint not yet in the run is read one matrix at a time and
recorded, and agreement with the last checkpoint (Eq. 5) is computed from the stored
vectors. Re-running the same command skips the checkpoints already recorded.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from specdyn.checkpoints import hub
from specdyn.checkpoints.auto_pairs import auto_pairs
from specdyn.checkpoints.budget import check_sizes, free_memory, task_memory
from specdyn.checkpoints.mapping import Spec, plan_matrices, read
from specdyn.checkpoints.parts import FOLDER, CheckpointTask, Executor, read_part
from specdyn.checkpoints.series import Checkpoint, discover
from specdyn.errors import CheckpointError, ConfigError, RunStoreError, SpecdynError
from specdyn.record.custom import resolve_all
from specdyn.record.recorder import Recorder
from specdyn.record.schedule import Schedule
from specdyn.record.stream import LAST_METRIC, METRIC_SETS, record_stream
from specdyn.spectral.matrices import canonical_name
from specdyn.spectral.pairs import Pair
from specdyn.spectral.svd import all_finite
from specdyn.store import layout
from specdyn.store.reader import Run, existing_run


@dataclass(frozen=True)
class AnalyzeOptions:
    """top_k: singular vectors kept (0: values only, no alignment or agreement); pairs:
    'auto', 'none' or a JSON file of pairs;
    metrics: 'default' or 'all' (adds alpha & co.); heads: per-head attention blocks;
    user_metrics: user-defined metrics to record, as specs (see specdyn.record.custom);
    base: the base model folder of a series of LoRA adapters."""

    top_k: int = 100
    pairs: str = "auto"
    metrics: str = "default"
    heads: bool = False
    user_metrics: tuple[str, ...] = ()
    base: str | None = None  # a LoRA adapter's base model: also the merged W + dW


def analyze(
    paths: Sequence[str | Path],
    out: str | Path,
    steps: Sequence[int] | None = None,
    options: AnalyzeOptions = AnalyzeOptions(),
    log: Callable[[str], None] = lambda _: None,
    max_memory: int | None = None,
    execute: Executor | None = None,
    keep: int = 1,
) -> Path:
    """Analyse the checkpoints under ``paths`` (or the Hub revisions of one ``hf:`` path)
    into the run folder ``out``; returns it. ``max_memory``: bytes one tensor's
    decomposition may take (default: what the machine has free now); a tensor whose
    header declares more is refused before anything is read. ``execute``: runs one task per
    checkpoint, possibly in parallel (:mod:`specdyn.sweep.analyze_backend`); their results
    are recorded in step order, so the run folder is the one a single process writes.
    ``keep``: Hub revisions on disk at once (:class:`specdyn.checkpoints.hub.Fetcher`)."""
    budget = free_memory() if max_memory is None else max_memory
    if options.metrics not in METRIC_SETS:
        raise ConfigError(f"--metrics must be one of {', '.join(METRIC_SETS)}")
    resolve_all(options.user_metrics)  # every metric loads before anything is written
    if options.top_k < 0:
        raise ConfigError(f"--top-k must be 0 (values only) or positive, got {options.top_k}")
    if any(hub.is_hub(p) for p in paths):
        if len(paths) != 1:
            raise ConfigError("an hf: repository is analysed on its own: give it as the only path")
        if execute is not None:
            return _analyze_hub_on(str(paths[0]), Path(out), steps, options, log, budget, execute)
        return _analyze_hub(str(paths[0]), Path(out), steps, options, log, budget, keep)
    series = _with_base(discover(paths, steps), options.base)
    specs = _common_plan(series, options.heads, budget)
    pairs = _pairs(options, specs, series[0], log)
    out = Path(out)
    config = _config({int(c.step or 0): str(c.path) for c in series}, options, pairs)
    done = _done_steps(out, config, options.metrics, [s.name for s in specs])
    pending = [c for c in series if c.step not in done]
    if execute is not None:
        recorder = _recorder(out, config, pairs, options)
        memory = task_memory(series[0], specs)
        tasks = [_task(c, out, options, budget, memory) for c in pending]
        _record_parts(recorder, tasks, execute, log)
        recorder.finish()
        shutil.rmtree(out / FOLDER, ignore_errors=True)
        return out
    for c in pending:
        _check_finite(c, specs)
    recorder = _recorder(out, config, pairs, options)
    for c in pending:
        _record(recorder, c, specs, options, log)
    recorder.finish()
    return out


def _task(
    c: Checkpoint, out: Path, options: AnalyzeOptions, budget: int, memory: int
) -> CheckpointTask:
    part = out.absolute() / FOLDER / f"step_{int(c.step or 0):08d}.safetensors"
    return CheckpointTask(c, part, options.heads, options.top_k, options.metrics, budget, memory)


def _record_parts(
    recorder: Recorder,
    tasks: list[CheckpointTask],
    execute: Executor,
    log: Callable[[str], None],
) -> None:
    """Record the tasks' parts in step order as they come; the first failure is raised
    once every task has ended (the parts after it stay for the next run)."""
    ready: dict[int, Path] = {}
    order = [t.step for t in tasks]
    failed: tuple[CheckpointTask, BaseException] | None = None
    for task, result in execute(tasks):
        if isinstance(result, BaseException):
            failed = failed if failed is not None and failed[0].step < task.step else (task, result)
            continue
        ready[task.step] = result
        while order and order[0] in ready and (failed is None or order[0] < failed[0].step):
            step = order.pop(0)
            part = ready.pop(step)
            log(f"step {step}: {next(t.checkpoint.path for t in tasks if t.step == step)}")
            recorder.record_spectra(step, *read_part(part))
            part.unlink()
    recorder.flush()
    if failed is not None:
        task, err = failed
        if isinstance(err, SpecdynError):
            raise err
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"the worker analysing step {task.step} ('{task.checkpoint.path}') failed "
            f"({type(err).__name__}: {first}); run the same command again to resume"
        )


def _analyze_hub(
    spec: str,
    out: Path,
    steps: Sequence[int] | None,
    options: AnalyzeOptions,
    log: Callable[[str], None],
    budget: int,
    keep: int,
) -> Path:
    """Hub revisions fetched one at a time (:mod:`specdyn.checkpoints.hub`). All are
    resolved before anything is written; each is checked (architecture, finite weights)
    before it is recorded; a fresh run folder with nothing recorded is removed on error."""
    revisions = hub.resolve(*hub.parse(spec), steps)
    recorded = _recorded_steps(out, options.metrics)
    first = next((r for r in revisions if r.step not in recorded), revisions[0])
    todo = [first] + [r for r in revisions if r.step not in recorded and r is not first]
    fetcher = hub.Fetcher(_scratch(out), log, keep)
    created, count = not out.exists(), 0
    recorder: Recorder | None = None
    try:
        with closing(fetcher.series(todo)) as fetched:
            for c in fetched:
                if recorder is None:  # the first: the architecture, pairs and options
                    c0, specs = c, _common_plan([c], options.heads, budget)
                    pairs = _pairs(options, specs, c, log)
                    config = _config({r.step: r.label for r in revisions}, options, pairs)
                    done = _done_steps(out, config, options.metrics, [s.name for s in specs])
                    recorder = _recorder(out, config, pairs, options)
                else:
                    _same_architecture(
                        specs, _common_plan([c], options.heads, budget), c0.path, c.path
                    )
                if c.step in done:
                    continue
                _check_finite(c, specs)
                _record(recorder, c, specs, options, log)
                count += 1
    except BaseException:
        if created and count == 0:
            shutil.rmtree(out, ignore_errors=True)
        raise
    assert recorder is not None
    recorder.finish()
    return out


def _analyze_hub_on(
    spec: str,
    out: Path,
    steps: Sequence[int] | None,
    options: AnalyzeOptions,
    log: Callable[[str], None],
    budget: int,
    execute: Executor,
) -> Path:
    """Hub revisions analysed by ``execute``'s workers, one task per revision, each
    fetching its own. The first revision not yet recorded is fetched here to plan the run
    (its matrices, pairs and memory per task); its task reads these files, and they are
    deleted when the series ends. Every other revision must hold the same matrices."""
    revisions = hub.resolve(*hub.parse(spec), steps)
    recorded = _recorded_steps(out, options.metrics)
    first = next((r for r in revisions if r.step not in recorded), revisions[0])
    created = not out.exists()
    try:
        with hub.Fetcher(_scratch(out), log).fetched(first) as c0:
            specs = _common_plan([c0], options.heads, budget)
            pairs = _pairs(options, specs, c0, log)
            config = _config({r.step: r.label for r in revisions}, options, pairs)
            done = _done_steps(out, config, options.metrics, [s.name for s in specs])
            recorder = _recorder(out, config, pairs, options)
            memory = task_memory(c0, specs)
            expected = tuple((s.name, tuple(s.shape)) for s in specs)
            tasks = [
                replace(
                    _task(c0 if r is first else _placeholder(r), out, options, budget, memory),
                    revision=r,
                    expected=expected,
                )
                for r in revisions
                if r.step not in done
            ]
            _record_parts(recorder, tasks, execute, log)
    except BaseException:
        if created and not layout.step_files(out / layout.SPECTRA):
            shutil.rmtree(out, ignore_errors=True)
        raise
    recorder.finish()
    shutil.rmtree(out / FOLDER, ignore_errors=True)
    return out


def _placeholder(rev: hub.Revision) -> Checkpoint:
    """A revision no file of which is here yet: its worker fetches it."""
    return Checkpoint(Path(rev.label), rev.step, ())


def _with_base(series: list[Checkpoint], base: str | None) -> list[Checkpoint]:
    """Each adapter checkpoint with the base model it updates (``--base``)."""
    if base is None:
        return series
    found = discover([base])
    if len(found) != 1:
        raise ConfigError(f"--base '{base}' holds {len(found)} checkpoints; give one model")
    if any(c.hints.adapter is None for c in series):
        path = next(c.path for c in series if c.hints.adapter is None)
        raise ConfigError(f"--base is for LoRA adapters, but '{path}' has no adapter_config.json")
    return [replace(c, base=found[0]) for c in series]


def _scratch(out: Path) -> Path:
    """Where downloads wait: next to the run folder if its parent exists (same disk)."""
    parent = out.absolute().parent
    return parent if parent.is_dir() else Path(tempfile.gettempdir())


def _recorder(out: Path, about: dict, pairs: list[Pair], options: AnalyzeOptions) -> Recorder:
    """The run's recorder; it writes the run's config: its own settings and ``about``."""
    at = Schedule(at=tuple(int(s) for s in about["checkpoints"]))
    metrics = options.user_metrics
    return Recorder(out, at, pairs, options.top_k, options.heads, metrics=metrics, about=about)


def _record(
    recorder: Recorder,
    c: Checkpoint,
    specs: list[Spec],
    options: AnalyzeOptions,
    log: Callable[[str], None],
) -> None:
    log(f"step {c.step}: {c.path}")
    with c.open() as source:
        record_stream(recorder, int(c.step or 0), read(source, specs), options.metrics)


def _common_plan(series: list[Checkpoint], heads: bool, budget: int) -> list[Spec]:
    """The matrices of the first checkpoint; every other must hold the same ones, each
    within the memory budget."""
    first: list[Spec] | None = None
    for c in series:
        with c.open() as source:
            specs = plan_matrices(source.tensors, c.hints, heads, base=c.base is not None)
            check_sizes(source, specs, budget)
        if not specs:
            raise CheckpointError(f"'{c.path}' holds no weight matrix (no tensor with ndim >= 2)")
        if first is None:
            first, first_path = specs, c.path
            continue
        _same_architecture(first, specs, first_path, c.path)
    return first  # type: ignore[return-value]


def _same_architecture(a: list[Spec], b: list[Spec], pa: Path, pb: Path) -> None:
    shapes_b = {s.name: s.shape for s in b}
    for s in a:
        other = shapes_b.pop(s.name, None)
        if other != s.shape:
            there = "has no such matrix" if other is None else f"has it {_dims(other)}"
            raise CheckpointError(
                f"checkpoints differ in architecture: matrix '{s.name}' is {_dims(s.shape)} in "
                f"'{pa}' but '{pb}' {there}"
            )
    if shapes_b:
        name = next(iter(shapes_b))
        raise CheckpointError(
            f"checkpoints differ in architecture: matrix '{name}' of '{pb}' is not in '{pa}'"
        )


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _pairs(
    options: AnalyzeOptions, specs: list[Spec], first: Checkpoint, log: Callable[[str], None]
) -> list[Pair]:
    choice = options.pairs
    if choice == "none":
        return []
    if options.top_k == 0:  # no vectors: no alignment
        if choice != "auto":
            raise ConfigError("--pairs needs singular vectors; --top-k 0 keeps none")
        log("pairs: none (--top-k 0 keeps no singular vectors)")
        return []
    if choice == "auto":
        with first.open() as source:
            kernels = {
                canonical_name(k): info.shape[2:]
                for k, info in source.tensors.items()
                if len(info.shape) > 2
            }
        found = auto_pairs(specs, kernels)
        log(f"pairs: {len(found.pairs)} ({found.layout} layout)")
        if found.unpaired:
            log(f"not paired: {', '.join(found.unpaired)}")
        return list(found.pairs)
    return _pairs_file(Path(choice), {s.name for s in specs})


def _pairs_file(path: Path, names: set[str]) -> list[Pair]:
    """A JSON list of pairs: ``["a", "b"]`` or objects with Pair's fields."""
    try:
        entries = json.loads(path.read_text())
        pairs = [_pair(e) for e in entries]
    except (OSError, json.JSONDecodeError, TypeError, AttributeError) as err:
        raise ConfigError(f"--pairs '{path}' is not a JSON list of pairs: {err}") from None
    for p in pairs:
        for name in (p.prev, p.next):
            if name not in names:
                raise ConfigError(f"--pairs '{path}' names matrix '{name}', not in the checkpoints")
    return pairs


def _pair(entry: Any) -> Pair:
    if isinstance(entry, list):
        return Pair(*entry)
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}
    return Pair(**fields)


def _config(checkpoints: dict[int, str], options: AnalyzeOptions, pairs: list[Pair]) -> dict:
    """What the run's config says besides the recorder's settings (which it adds)."""
    return {
        "preset": None,
        "seed": None,
        "data_source": "checkpoints",
        "analyze": _options(options) | {"pairs": [p.name for p in pairs]},
        "checkpoints": {str(s): label for s, label in sorted(checkpoints.items())},
    }


def _options(options: AnalyzeOptions) -> dict:
    """The options as the run's config keeps them; ``user_metrics`` and ``base`` only when
    given, so that runs analysed before they existed resume."""
    out = asdict(options)
    if not options.user_metrics:
        del out["user_metrics"]
    else:
        out["user_metrics"] = list(options.user_metrics)
    if out["base"] is None:
        del out["base"]
    return out


def _done_steps(out: Path, config: dict, metrics: str, names: list[str]) -> set[int]:
    """Steps already recorded in ``out`` by the same options on the same matrices."""
    run = _existing(out)
    if run is None:
        return set()
    old = run.config.get("analyze")
    if old != config["analyze"]:
        raise ConfigError(f"'{out}' was analysed with other options ({old}); choose another --out")
    if run.matrices and run.matrices != names:
        raise CheckpointError(
            f"'{out}' holds another architecture's matrices ({run.matrices[0]}, ...); "
            "choose another --out"
        )
    return run.recorded_steps(LAST_METRIC[metrics])


def _check_finite(c: Checkpoint, specs: list[Spec]) -> None:
    keys = {k for s in specs for k in s.keys}
    with c.open() as source:
        for key in source.tensors:
            if key in keys and not all_finite(source.get(key)):
                raise CheckpointError(
                    f"matrix '{canonical_name(key)}' of checkpoint '{c.path}' (step {c.step}) "
                    "has NaN or Inf entries"
                )


def _recorded_steps(out: Path, metrics: str) -> set[int]:
    """The steps the run folder ``out`` holds whole (none where it has no run yet)."""
    run = _existing(out)
    return set() if run is None else run.recorded_steps(LAST_METRIC[metrics])


def _existing(out: Path) -> Run | None:
    try:
        return existing_run(out)
    except RunStoreError as err:
        raise CheckpointError(f"{err}; choose another --out") from None
