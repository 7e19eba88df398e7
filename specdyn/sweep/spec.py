"""What a sweep is: a task, a preset, fixed overrides, a grid and seeds; and its points.

Every grid value is parsed by the config parser before anything runs, so a value of the
wrong type, an unknown key or a duplicate fails at once with a ConfigError. A point is one
normal run: its folder is named like ``specdyn run``'s (task-preset-hash of the config).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specdyn.config.overrides import (
    apply_overrides,
    assign,
    changed_fields,
    resolve_key,
    run_hash,
    set_value,
)
from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError
from specdyn.store import layout
from specdyn.tasks.checks import validate_run
from specdyn.tasks.registry import get_preset

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class GridAxis:
    """One swept key: as written (``weight_decay``), its dotted path, and its raw values."""

    key: str
    path: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: the cross product of ``grid`` values and ``seeds`` on one task and preset.

    grid: ((key, (value, ...)), ...), each value as ``--set`` would take it (a string) or
    of the field's type.
    overrides: ``key=value`` strings (``--set``) applied to every point before the grid.
    base: the config the points start from, when it is not the preset as it is (a
    reproduced figure's, shrunk to its scale); its task and preset are the spec's.
    backend: "local" or "ray"; workers: concurrent points (None: 1 locally, all on Ray);
    address: the Ray cluster to join (None starts a local one). threads: torch threads
    per point (None: the cores shared out, cores // workers; 1 on a machine whose cores
    other jobs also use, where idle threads of a point wait on busy ones).
    """

    task: str
    preset: str | None = None
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    seeds: tuple[int, ...] = (0,)
    overrides: tuple[str, ...] = ()
    backend: str = "local"
    workers: int | None = None
    address: str | None = None
    threads: int | None = None
    base: RunConfig | None = None


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its config, its folder, its grid values and its seed."""

    cfg: RunConfig
    run_dir: Path
    values: tuple[tuple[str, Any], ...]
    seed: int

    @property
    def label(self) -> str:
        shown = " ".join(f"{k}={v}" for k, v in self.values)
        return f"{shown} seed={self.seed}".strip()


def run_folder_name(cfg: RunConfig) -> str:
    """The run folder name ``specdyn run`` uses: task-preset-hash."""
    return layout.run_name(cfg.task, cfg.preset, run_hash(cfg))


def base_config(spec: SweepSpec) -> RunConfig:
    """The config of every point before the grid: the base (else the preset), overridden."""
    start = spec.base if spec.base is not None else get_preset(spec.task, spec.preset)
    return apply_overrides(start, spec.overrides)


def base_changes(spec: SweepSpec) -> dict[str, Any]:
    """What the spec's base changes from its preset, as dotted path -> value (JSON)."""
    if spec.base is None:
        return {}
    preset = get_preset(spec.task, spec.base.preset)
    return {k: _json_value(v) for k, v in changed_fields(preset, spec.base).items()}


def axes(spec: SweepSpec) -> tuple[GridAxis, ...]:
    """The grid, checked: known keys, no key twice, values non-empty, distinct and typed."""
    check_spec(spec)
    base = base_config(spec)
    out: list[GridAxis] = []
    for key, values in spec.grid:
        path = resolve_key(base, key)
        if path in ("seed",):
            raise ConfigError("sweep seeds with --seeds, not --grid seed=...")
        if any(a.path == path for a in out):
            raise ConfigError(f"grid key '{key}' is given twice")
        if not values:
            raise ConfigError(f"grid key '{key}' has no values (use --grid {key}=v1,v2,...)")
        parsed = [assign(base, path, raw) for raw in values]  # ConfigError on a bad value
        typed = [_json_value(_get(cfg, path)) for cfg in parsed]
        if len({json.dumps(v) for v in typed}) != len(typed):
            raise ConfigError(f"grid key '{key}' repeats a value: {', '.join(map(str, values))}")
        out.append(GridAxis(key, path, tuple(values)))
    return tuple(out)


def check_spec(spec: SweepSpec) -> None:
    if spec.backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{spec.backend}'; known: {', '.join(BACKENDS)}")
    if not spec.seeds:
        raise ConfigError("no seeds given (use --seeds 0,1,2)")
    if len(set(spec.seeds)) != len(spec.seeds):
        raise ConfigError(f"duplicate seeds: {','.join(map(str, spec.seeds))}")
    if not spec.grid and len(spec.seeds) < 2:
        raise ConfigError("the grid is empty: give --grid key=v1,v2,... or several --seeds")
    if spec.workers is not None and spec.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {spec.workers}")
    if spec.threads is not None and spec.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {spec.threads}")
    base = spec.base
    if base is not None and (base.task != spec.task or spec.preset not in (None, base.preset)):
        raise ConfigError(
            f"the sweep's base config is {base.task} {base.preset}, not {spec.task} {spec.preset}"
        )


def expand(spec: SweepSpec, sweep_dir: Path) -> list[Point]:
    """Every point of the sweep, grid-major then seed, each with its run folder; every
    point's config validated, so a value no point may take fails before any point runs."""
    grid = axes(spec)
    base = base_config(spec)
    points = []
    for combo in itertools.product(*(axis.values for axis in grid)):
        cfg = base
        for axis, raw in zip(grid, combo, strict=True):
            cfg = assign(cfg, axis.path, raw)
        values = tuple((a.key, _json_value(_get(cfg, a.path))) for a in grid)
        for seed in spec.seeds:
            seeded = validate_run(set_value(cfg, "seed", str(seed)))
            points.append(Point(seeded, sweep_dir / run_folder_name(seeded), values, seed))
    return points


def sweep_name(spec: SweepSpec) -> str:
    """sweep-task-preset-hash: the same command always finds the same folder. The backend
    and the number of workers do not enter it, so a sweep can move between backends."""
    base = base_config(spec)
    grid = [[a.path, [_typed(base, a.path, v) for v in a.values]] for a in axes(spec)]
    text = json.dumps(
        {"task": spec.task, "base": run_hash(base), "grid": grid, "seeds": list(spec.seeds)},
        sort_keys=True,
    )
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"sweep-{base.task}-{base.preset}-{digest}"


def _typed(base: RunConfig, path: str, raw: Any) -> Any:
    return _json_value(_get(assign(base, path, raw), path))


def _get(cfg: RunConfig, path: str) -> Any:
    if "." not in path:
        return getattr(cfg, path)
    section, name = path.split(".")
    return getattr(getattr(cfg, section), name)


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def parse_grid_args(texts: list[str], base: RunConfig) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``key=v1,v2,...`` strings -> ((key, (v1, v2, ...)), ...). A tuple-valued key (e.g.
    ``betas``) separates its values by ';' since each value holds commas."""
    out = []
    for text in texts:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--grid expects key=v1,v2,..., got '{text}'")
        path = resolve_key(base, key.strip())
        is_tuple = isinstance(_get(base, path), tuple)
        values = tuple(v.strip() for v in raw.split(";" if is_tuple else ",") if v.strip())
        out.append((key.strip(), values))
    return tuple(out)


def parse_seeds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ConfigError(f"--seeds expects integers like 0,1,2, got '{text}'") from None
