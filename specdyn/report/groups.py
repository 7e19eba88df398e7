"""Runs that differ only by seed form a group; groups are labelled by what differs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

# Keys that describe where and when a run was made, or its seeds, not what it trained.
NOT_SETTINGS = ("seed", "data_seed", "hash", "environment", "data_source", "figures")


def settings(config: Mapping) -> dict[str, object]:
    """The config flattened to dotted keys, without seeds and provenance."""
    flat: dict[str, object] = {}
    _flatten({k: v for k, v in config.items() if k not in NOT_SETTINGS}, "", flat)
    return flat


def group_runs(configs: Sequence[Mapping]) -> list[list[int]]:
    """Indices of runs with equal settings, groups in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for i, config in enumerate(configs):
        key = json.dumps(settings(config), sort_keys=True, default=str)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def group_labels(configs: Sequence[Mapping], groups: Sequence[Sequence[int]]) -> list[str]:
    """One label per group: the settings that differ between groups (task and preset when
    only one group, or when they differ), then its seeds."""
    firsts = [settings(configs[g[0]]) for g in groups]
    keys = sorted({k for s in firsts for k in s}, key=lambda k: (k not in ("task", "preset"), k))
    varying = [k for k in keys if len({_value(s.get(k)) for s in firsts}) > 1]
    labels = []
    for group, flat in zip(groups, firsts, strict=True):
        parts = [f"{_short(k)}={_value(flat.get(k))}" for k in varying[:4]]
        if len(groups) == 1 or "task" in varying or "preset" in varying:
            parts = [f"{flat.get('task')} {flat.get('preset')}"] + [
                p for p in parts if not p.startswith(("task=", "preset="))
            ]
        seeds = [configs[i].get("seed") for i in group]
        labels.append(", ".join(parts) + _seeds(seeds))
    return labels


def _flatten(value: object, prefix: str, out: dict[str, object]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(item, f"{prefix}{key}.", out)
    else:
        out[prefix.rstrip(".")] = value


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _seeds(seeds: Sequence[object]) -> str:
    if len(seeds) > 1:
        return f" (seeds {', '.join(str(s) for s in sorted(seeds, key=str))})"
    return f" (seed {seeds[0]})" if seeds[0] is not None else ""
