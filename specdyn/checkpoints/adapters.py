"""PEFT LoRA adapters: each adapted module's update ``dW = (lora_alpha / r) B A`` is a matrix.

An adapter folder holds ``adapter_config.json`` and ``adapter_model.safetensors`` with
``<module>.lora_A.weight`` (r, d_in) and ``<module>.lora_B.weight`` (d_out, r) (an embedding's:
``lora_embedding_A`` (r, num_embeddings), ``lora_embedding_B`` (dim, r)); PEFT saves module
names under ``base_model.model.``, which is dropped. Every update is recorded in its base
weight's orientation, as PEFT merges it: ``(B A)^T`` for embeddings and for ``fan_in_fan_out``
modules (GPT-2's Conv1D, whose weight is (d_in, d_out)); with ``--base`` the base weight's
shape decides where the config's one flag does not fit a module. Each update is recorded as
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

from specdyn.checkpoints.readers import TensorInfo, WeightSource
from specdyn.errors import CheckpointError
from specdyn.spectral.lowrank import LowRank

CONFIG = "adapter_config.json"
_PREFIX = "base_model.model."
_A, _B = ".lora_A.weight", ".lora_B.weight"
_EMBEDDING_A, _EMBEDDING_B = ".lora_embedding_A", ".lora_embedding_B"
_FACTORS = ((_A, _B, False), (_EMBEDDING_A, _EMBEDDING_B, True))  # A, B, transposed always


@dataclass(frozen=True)
class Adapter:
    """What adapter_config.json says about the scale of each update."""

    lora_alpha: float
    rslora: bool = False
    alpha_pattern: tuple[tuple[str, float], ...] = ()
    fan_in_fan_out: bool = False  # weights stored (d_in, d_out), as GPT-2's Conv1D

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
        rslora, fan = bool(cfg.get("use_rslora", False)), bool(cfg.get("fan_in_fan_out", False))
        return Adapter(alpha, rslora, patterns, fan)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"'{path}' is not a LoRA adapter config: {err!r}") from None


@dataclass(frozen=True)
class LoraSpec:
    """One adapted module: ``name`` from lora_A ``a`` and lora_B ``b``; ``base``: the base
    weight's key when the merged matrix is recorded instead of the update; ``transposed``:
    the update is ``(B A)^T`` in the base weight's orientation; ``shape``: that orientation's."""

    name: str
    a: str
    b: str
    scale: float
    shape: tuple[int, int]
    base: str | None = None
    keys: tuple[str, ...] = field(default=())
    transposed: bool = False

    @property
    def key(self) -> str:
        return self.b


def is_adapter(tensors: Mapping[str, TensorInfo]) -> bool:
    return any(k.endswith((_A, _EMBEDDING_A)) for k in tensors)


def _factor_pairs(tensors: Mapping[str, TensorInfo]) -> Iterator[tuple[str, str, str, bool]]:
    """(module, lora_A key, lora_B key, always transposed) of every adapted module."""
    for suffix_a, suffix_b, embedding in _FACTORS:
        for a in (k for k in tensors if k.endswith(suffix_a)):
            b = a.removesuffix(suffix_a) + suffix_b
            if b not in tensors:
                raise CheckpointError(f"LoRA factor '{a}' has no '{b}'")
            yield a.removesuffix(suffix_a).removeprefix(_PREFIX), a, b, embedding


def plan_adapter(
    tensors: Mapping[str, TensorInfo], adapter: Adapter | None, base: bool
) -> list[LoraSpec]:
    """``<module>.lora`` for every lora_A / lora_B pair, then (``base``) ``<module>`` for the
    merged weight, read from the base model's tensors among ``tensors``."""
    if adapter is None:
        first = next(k for k in tensors if k.endswith((_A, _EMBEDDING_A)))
        raise CheckpointError(
            f"tensors such as '{first}' are LoRA factors, but no {CONFIG} gives lora_alpha"
        )
    specs: list[LoraSpec] = []
    for module, a, b, embedding in _factor_pairs(tensors):
        r, d_in = tensors[a].shape
        d_out = tensors[b].shape[0]
        flip = embedding or adapter.fan_in_fan_out
        if base and not embedding:
            flip = _base_flipped(module, tensors, (d_out, d_in), flip)
        shape = (d_in, d_out) if flip else (d_out, d_in)
        scale = adapter.scale(module, r)
        specs.append(LoraSpec(f"{module}.lora", a, b, scale, shape, None, (a, b), flip))
        if base:
            key = _base_key(module, tensors, shape)
            specs.append(LoraSpec(module, a, b, scale, shape, key, (key, a, b), flip))
    return specs


def _base_flipped(
    module: str, tensors: Mapping[str, TensorInfo], shape: tuple[int, int], flip: bool
) -> bool:
    """Whether the base weight of ``module`` holds ``(B A)^T``: its shape decides when it
    fits one orientation only (PEFT writes one fan_in_fan_out for every module)."""
    info = tensors.get(f"{module}.base_layer.weight") or tensors.get(f"{module}.weight")
    if info is None or shape[0] == shape[1]:
        return flip
    if tuple(info.shape) == (shape[1], shape[0]):
        return True
    return False if tuple(info.shape) == shape else flip


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
        B, A = source.get(spec.b), source.get(spec.a)
        update = LowRank(A.T, B.T, spec.scale) if spec.transposed else LowRank(B, A, spec.scale)
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
