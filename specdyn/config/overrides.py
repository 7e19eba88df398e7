"""``--set key=value`` overrides, config <-> JSON, and the run hash.

A key is a dotted path (``optim.lr``) or a bare field name when only one section has it
(``lr``). Values are parsed by the field's annotated type; tuples take comma lists.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from collections.abc import Iterable
from typing import Any

from specdyn.config.schema import RunConfig
from specdyn.errors import ConfigError

SECTIONS = ("model", "data", "optim", "train", "record")
TOP_LEVEL = ("seed", "data_seed")  # settable fields outside the sections


def fields_of(cfg: RunConfig) -> dict[str, Any]:
    """Every settable field as dotted path -> current value (``seed`` at top level)."""
    out: dict[str, Any] = {name: getattr(cfg, name) for name in TOP_LEVEL}
    for section in SECTIONS:
        part = getattr(cfg, section)
        out |= {f"{section}.{f.name}": getattr(part, f.name) for f in dataclasses.fields(part)}
    return out


def changed_fields(before: RunConfig, after: RunConfig) -> dict[str, Any]:
    """The fields ``after`` changes from ``before``, as dotted path -> new value."""
    old = fields_of(before)
    return {path: value for path, value in fields_of(after).items() if old[path] != value}


def resolve_key(cfg: RunConfig, key: str) -> str:
    """A dotted path for ``key``; ConfigError if it is unknown or ambiguous."""
    paths = fields_of(cfg)
    if key in paths:
        return key
    matches = [p for p in paths if p.split(".")[-1] == key]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ConfigError(f"key '{key}' is ambiguous: use one of {', '.join(matches)}")
    raise ConfigError(f"unknown key '{key}' for task '{cfg.task}' (see `specdyn tasks`)")


def apply_overrides(cfg: RunConfig, assignments: Iterable[str]) -> RunConfig:
    """Apply ``key=value`` strings (a later one wins); returns a new config.

    Every value is parsed first and each section is then replaced once, so that fields
    checked together (``d_model`` and ``n_heads``) can be changed in any order.
    """
    values: dict[str, Any] = {}
    for text in assignments:
        key, sep, raw = text.partition("=")
        if not sep:
            raise ConfigError(f"--set expects key=value, got '{text}'")
        path = resolve_key(cfg, key.strip())
        values[path] = parse_value(raw.strip(), _kind(cfg, path), path)
    return replace_fields(cfg, values)


def set_value(cfg: RunConfig, path: str, raw: str) -> RunConfig:
    """``cfg`` with the field at dotted ``path`` parsed from ``raw``."""
    return replace_fields(cfg, {path: parse_value(raw, _kind(cfg, path), path)})


def assign(cfg: RunConfig, path: str, value: Any) -> RunConfig:
    """``cfg`` with the field at dotted ``path`` set to ``value``: a string is parsed as
    ``--set`` parses it; any other value must have the field's type already (an int for a
    float field is that float)."""
    if isinstance(value, str):
        return set_value(cfg, path, value)
    return replace_fields(cfg, {path: _checked(value, _kind(cfg, path), path)})


def _checked(value: Any, kind: Any, path: str) -> Any:
    args = typing.get_args(kind)
    if value is None and type(None) in args:
        return None
    if type(None) in args:
        kind = next(a for a in args if a is not type(None))
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    origin = typing.get_origin(kind) or kind
    if isinstance(value, origin) and (kind is bool or not isinstance(value, bool)):
        return value
    raise ConfigError(f"bad value {value!r} for '{path}' ({_type_name(kind)})")


def replace_fields(cfg: RunConfig, values: dict[str, Any]) -> RunConfig:
    """``cfg`` with dotted path -> value replaced, one ``dataclasses.replace`` per section.

    A section's own check (its ``__post_init__``) failing is a ConfigError naming the keys.
    """
    top = {path: v for path, v in values.items() if path in TOP_LEVEL}
    changes: dict[str, Any] = dict(top)
    for section in SECTIONS:
        mine = {p.split(".")[1]: v for p, v in values.items() if p.split(".")[0] == section}
        if not mine:
            continue
        try:
            changes[section] = dataclasses.replace(getattr(cfg, section), **mine)
        except (TypeError, ValueError) as err:
            keys = ", ".join(f"{section}.{k}" for k in mine)
            raise ConfigError(f"bad value for {keys}: {err}") from None
    return dataclasses.replace(cfg, **changes)


def _kind(cfg: RunConfig, path: str) -> Any:
    """The annotated type of the field at dotted ``path``."""
    if path in TOP_LEVEL:
        return typing.get_type_hints(RunConfig)[path]
    section, name = path.split(".")
    return typing.get_type_hints(type(getattr(cfg, section)))[name]


def parse_value(raw: str, kind: Any, path: str) -> Any:
    """Parse ``raw`` as ``kind`` (int, float, bool, str or a tuple of those)."""
    try:
        return _parse(raw, kind)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"bad value '{raw}' for '{path}' ({_type_name(kind)}): {err}") from None


def _parse(raw: str, kind: Any) -> Any:
    args = typing.get_args(kind)
    if type(None) in args:  # Optional[X]: "none" or "" is None, anything else an X
        if raw.strip().lower() in ("", "none", "null"):
            return None
        return _parse(raw, next(a for a in args if a is not type(None)))
    if typing.get_origin(kind) is tuple:
        args = typing.get_args(kind)
        items = [x.strip() for x in raw.strip("()[] ").split(",") if x.strip()]
        if args and args[-1] is not Ellipsis and len(items) != len(args):
            raise ValueError(f"expected {len(args)} comma-separated values")
        inner = args[0] if args else str
        return tuple(_parse(x, inner) for x in items)
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if kind is int:
        if raw.strip().lstrip("+-").isdigit():
            return int(raw)
        value = float(raw)  # 1e3 is an integer too
        if not value.is_integer():
            raise ValueError("expected an integer")
        return int(value)
    if kind is float:
        return float(raw)
    return str(raw)


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def to_dict(cfg: RunConfig) -> dict:
    return dataclasses.asdict(cfg)


def from_dict(data: dict, template: RunConfig) -> RunConfig:
    """Rebuild a RunConfig from ``to_dict`` output; ``template`` gives the section types."""
    parts = {}
    for section in SECTIONS:
        cls = type(getattr(template, section))
        values = data.get(section, {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"config section '{section}' has unknown keys {sorted(unknown)}")
        hints = typing.get_type_hints(cls)
        parts[section] = cls(**{k: _from_json(v, hints[k]) for k, v in values.items()})
    top = {name: data[name] for name in TOP_LEVEL if name in data}
    return RunConfig(task=data["task"], preset=data["preset"], **top, **parts)


def _from_json(value: Any, kind: Any) -> Any:
    return tuple(value) if typing.get_origin(kind) is tuple else value


def run_hash(cfg: RunConfig) -> str:
    """8 hex digits from the fields that differ from their dataclass defaults.

    A field added later with a default leaves existing hashes, and so run folders, intact.
    """
    changed: dict[str, Any] = {"task": cfg.task}
    for path, value in fields_of(cfg).items():
        if value != _default(cfg, path):
            changed[path] = list(value) if isinstance(value, tuple) else value
    text = json.dumps(changed, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _default(cfg: RunConfig, path: str) -> Any:
    if path in TOP_LEVEL:
        return {f.name: f.default for f in dataclasses.fields(RunConfig)}[path]
    section, name = path.split(".")
    field = {f.name: f for f in dataclasses.fields(getattr(cfg, section))}[name]
    if field.default is not dataclasses.MISSING:
        return field.default
    factory = field.default_factory
    if factory is dataclasses.MISSING:
        raise ConfigError(f"'{path}' has no default")
    return factory()
