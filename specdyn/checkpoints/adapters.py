"""PEFT LoRA adapters: each adapted module's update ``dW = (lora_alpha / r) B A`` is a matrix.

An adapter folder holds ``adapter_config.json`` and ``adapter_model.safetensors`` with
``<module>.lora_A.weight`` (r, d_in) and ``<module>.lora_B.weight`` (d_out, r); PEFT saves
module names under ``base_model.model.``, which is dropped. Each update is recorded as
``<module>.lora`` from its factors (:mod:`specdyn.spectral.lowrank`: never the d_out x d_in
product); given the base model's weights, the merged ``W + dW`` is recorded as ``<module>``.
The scale is ``lora_alpha / r`` (``/ sqrt(r)`` with ``use_rslora``), with ``alpha_pattern``
and ``rank_pattern`` read per module as PEFT matches them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from specdyn.checkpoints.sources import TensorInfo, WeightSource
from specdyn.errors import CheckpointError
from specdyn.spectral.lowrank import LowRank

CONFIG = "adapter_config.json"
_PREFIX = "base_model.model."
_A, _B = ".lora_A.weight", ".lora_B.weight"


@dataclass(frozen=True)
class Adapter:
    """What adapter_config.json says about the scale of each update."""

    lora_alpha: float
    rslora: bool = False
    alpha_pattern: tuple[tuple[str, float], ...] = ()

    def scale(self, module: str, r: int) -> float:
        alpha = self.lora_alpha
        for pattern, value in self.alpha_pattern:
            if re.match(rf"(.*\.)?({pattern})$", module):
                alpha = value
                break
        return alpha / (math.sqrt(r) if self.rslora else r)


def read_adapter(folder: Path) -> Adapter | None:
    """The Adapter of a folder with adapter_config.json, or None; CheckpointError if it is
    not a LoRA config."""
    path = folder / CONFIG
    if not path.is_file():
        return None
    try:
        cfg = json.loads(path.read_text())
        alpha = float(cfg["lora_alpha"])
        patterns = tuple((str(k), float(v)) for k, v in (cfg.get("alpha_pattern") or {}).items())
        return Adapter(alpha, bool(cfg.get("use_rslora", False)), patterns)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"'{path}' is not a LoRA adapter config: {err!r}") from None


@dataclass(frozen=True)
class LoraSpec:
    """One adapted module: ``name`` from lora_A ``a`` and lora_B ``b``; ``base``: the base
    weight's key when the merged matrix is recorded instead of the update."""

    name: str
    a: str
    b: str
    scale: float
    shape: tuple[int, int]
    base: str | None = None
    keys: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return self.b


def is_adapter(tensors: Mapping[str, TensorInfo]) -> bool:
    return any(k.endswith(_A) for k in tensors)


def plan_adapter(
    tensors: Mapping[str, TensorInfo], adapter: Adapter | None, base: bool
) -> list[LoraSpec]:
    """``<module>.lora`` for every lora_A / lora_B pair, then (``base``) ``<module>`` for the
    merged weight, read from the base model's tensors among ``tensors``."""
    if adapter is None:
        raise CheckpointError(
            f"tensors such as '{next(k for k in tensors if k.endswith(_A))}' are LoRA factors, "
            f"but no {CONFIG} gives lora_alpha"
        )
    specs: list[LoraSpec] = []
    for a in (k for k in tensors if k.endswith(_A)):
        b = a.removesuffix(_A) + _B
        if b not in tensors:
            raise CheckpointError(f"LoRA factor '{a}' has no '{b}'")
        module = a.removesuffix(_A).removeprefix(_PREFIX)
        r, d_in = tensors[a].shape
        d_out = tensors[b].shape[0]
        scale = adapter.scale(module, r)
        specs.append(LoraSpec(f"{module}.lora", a, b, scale, (d_out, d_in), keys=(a, b)))
        if base:
            key = _base_key(module, tensors, (d_out, d_in))
            specs.append(LoraSpec(module, a, b, scale, (d_out, d_in), key, (key, a, b)))
    return specs


def _base_key(module: str, tensors: Mapping[str, TensorInfo], shape: tuple[int, int]) -> str:
    key = f"{module}.base_layer.weight" if f"{module}.base_layer.weight" in tensors else None
    key = key or f"{module}.weight"
    info = tensors.get(key)
    if info is None:
        raise CheckpointError(f"the base model has no weight '{key}' for LoRA module '{module}'")
    if tuple(info.shape) != shape:
        dims = "x".join(map(str, info.shape))
        raise CheckpointError(
            f"base weight '{key}' is {dims}, but its LoRA update is {shape[0]}x{shape[1]}"
        )
    return key


def read_adapter_matrices(
    source: WeightSource, specs: list[LoraSpec]
) -> Iterator[tuple[str, LowRank | Tensor]]:
    """(name, factored update) or (name, merged dense W + dW, float32) for every spec."""
    for spec in specs:
        update = LowRank(source.get(spec.b), source.get(spec.a), spec.scale)
        if spec.base is None:
            yield spec.name, update
            continue
        W = source.get(spec.base)
        dtype = torch.float64 if W.dtype == torch.float64 else torch.float32
        merged = W.to(dtype, copy=True)
        del W
        B, A = update.B.to(dtype), update.A.to(dtype)
        yield spec.name, merged.addmm_(B, A, alpha=spec.scale)


class CombinedSource(WeightSource):
    """An adapter's tensors and its base model's, as one source (names do not collide:
    PEFT's carry ``lora_`` and ``base_model.model.``)."""

    def __init__(self, adapter: WeightSource, base: WeightSource):
        self.label, self._parts = adapter.label, (adapter, base)
        self.tensors = dict(base.tensors) | dict(adapter.tensors)
        self._owner = {k: adapter for k in adapter.tensors}

    def _source(self, name: str) -> WeightSource:
        return self._owner.get(name, self._parts[1])

    def get(self, name: str) -> Tensor:
        return self._source(name).get(name)

    def file_of(self, name: str) -> str:
        return self._source(name).file_of(name)

    def close(self) -> None:
        for part in self._parts:
            part.close()
