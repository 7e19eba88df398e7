"""Which stored tensors are weight matrices, and how each becomes 2-D, from names and shapes.

The rules and names are those of :mod:`specdyn.spectral.matrices` (what training records),
told from a tensor's name and shape instead of its module's class:

- a floating tensor with ndim >= 2 is a matrix; more dims are flattened after the first
  (ConvNd: (c_out, c_in * prod(k))). Integer/bool buffers and 1-D tensors are skipped.
- GPT-2's Conv1D (``attn.c_attn``, ``attn.c_proj``, ``mlp.c_fc``, ``mlp.c_proj``) stores
  (in, out): it is transposed to (out, in) like a Linear.
- stacked QKV: GPT-2's ``c_attn`` and ``nn.MultiheadAttention``'s ``in_proj_weight``
  (q | k | v row blocks) and GPT-NeoX's ``query_key_value`` (interleaved head by head,
  split when the head count is known) add ``.q``, ``.k``, ``.v`` blocks; with ``heads``
  also ``.h{i}`` per head, and the output projection's column blocks ``.h{i}``.
- mixture of experts: a matrix stored per expert (``experts.3.w1``) is recorded as
  ``experts.w1.e3``; experts stacked in one 3-D ``experts.<name>`` tensor, stored
  (num_experts, d_in, d_out) as Hugging Face's fused MoE layers store them, become one
  (d_out, d_in) matrix per expert, ``experts.<name>.e<i>``, never one flattened matrix.
- recurrent ``weight_ih_l*`` / ``weight_hh_l*``: gate blocks (``i f g o`` for LSTM,
  ``r z n`` for GRU), the gate count read from weight_hh's shape.

A ConvTranspose weight cannot be told from a convolution by shape: it is flattened as
stored (c_in, c_out * prod(k)), while training transposes it first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor

from specdyn.checkpoints.adapters import (
    Adapter,
    LoraSpec,
    is_adapter,
    plan_adapter,
    read_adapter_matrices,
)
from specdyn.checkpoints.readers import TensorInfo, WeightSource
from specdyn.spectral.lowrank import LowRank
from specdyn.spectral.matrices import canonical_name, is_weight_shape, matrix_view

Transform = Callable[[Tensor], Tensor]
_GPT2_CONV1D: tuple[str, ...] = ("attn.c_attn.weight", "attn.q_attn.weight", "attn.c_proj.weight")
_GPT2_CONV1D += ("mlp.c_fc.weight", "mlp.c_proj.weight", "crossattention.c_attn.weight")
_RNN = re.compile(r"weight_(ih|hh)_l\d+(_reverse)?$")
_GATES = {4: "ifgo", 3: "rzn", 1: ""}
_EXPERT = re.compile(r"^(.*\.experts)\.(\d+)\.(.+?)(?:\.weight)?$")  # experts.3.w1.weight
_STACKED = re.compile(r"\.experts\.[^.]+$")  # experts.gate_up_proj: (E, d_in, d_out)
_SKIP_SUFFIX = (".attn.bias", ".attn.masked_bias")  # old GPT-2 causal-mask buffers
_FLOAT = ("F16", "BF16", "F32", "F64", "float16", "bfloat16", "float32", "float64")


@dataclass(frozen=True)
class Hints:
    """What a config.json says about the layout: model_type and attention head count."""

    model_type: str | None = None
    n_heads: int | None = None
    adapter: Adapter | None = None  # a LoRA adapter's adapter_config.json


@dataclass(frozen=True)
class MatrixSpec:
    """One recorded matrix: ``name``, read from stored tensor ``key`` through ``fn``."""

    name: str
    key: str
    fn: Transform
    shape: tuple[int, int]

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.key,)


Spec = MatrixSpec | LoraSpec


def plan_matrices(
    tensors: Mapping[str, TensorInfo], hints: Hints, heads: bool = False, base: bool = False
) -> list[Spec]:
    """Every matrix of a checkpoint, in storage order, with its 2-D shape; for a LoRA
    adapter, its updates (and with ``base``, the merged weights: :mod:`.adapters`)."""
    if is_adapter(tensors):
        return list(plan_adapter(tensors, hints.adapter, base))
    specs: list[Spec] = []
    seen: set[str] = set()
    for key, info in tensors.items():
        if (
            not is_weight_shape(info.shape)
            or info.dtype not in _FLOAT
            or key.endswith(_SKIP_SUFFIX)
        ):
            continue
        for spec in _specs(key, info.shape, tensors, hints, heads):
            if spec.name not in seen:  # a tied copy under a second prefix comes once
                seen.add(spec.name)
                specs.append(spec)
    return specs


def read(source: WeightSource, specs: Sequence[Spec]) -> Iterator[tuple[str, Tensor | LowRank]]:
    """(name, 2-D tensor) for every spec, loading each stored tensor once, in turn (a LoRA
    update comes as its factors)."""
    if specs and isinstance(specs[0], LoraSpec):
        yield from read_adapter_matrices(source, [s for s in specs if isinstance(s, LoraSpec)])
        return
    current_key, tensor = None, None
    for spec in specs:
        assert isinstance(spec, MatrixSpec)
        if spec.key != current_key:
            current_key, tensor = spec.key, source.get(spec.key)
        yield spec.name, spec.fn(tensor)  # type: ignore[arg-type]


def _specs(
    key: str, shape: tuple[int, ...], tensors: Mapping[str, TensorInfo], hints: Hints, heads: bool
) -> list[MatrixSpec]:
    name = canonical_name(key)
    expert = _EXPERT.match(name)
    if expert and len(shape) == 2:  # one expert's matrix: <experts>.<matrix>.e<i>
        prefix, i, matrix = expert.groups()
        return [MatrixSpec(f"{prefix}.{matrix}.e{i}", key, matrix_view, (shape[0], shape[1]))]
    if _STACKED.search(name) and len(shape) == 3:
        return _stacked_experts(name, key, shape)
    if key.endswith(_GPT2_CONV1D) and len(shape) == 2:
        out, inp = shape[1], shape[0]
        whole = MatrixSpec(name, key, lambda W: W.mT, (out, inp))
        if key.endswith("c_attn.weight") and out == 3 * inp:
            return [whole, *_qkv(whole, inp, hints.n_heads if heads else None, interleave=False)]
        if key.endswith("attn.c_proj.weight") and heads and hints.n_heads:
            return [whole, *_head_columns(whole, hints.n_heads)]
        return [whole]
    whole = MatrixSpec(name, key, matrix_view, (shape[0], _prod(shape[1:])))
    if key.endswith("in_proj_weight") and shape[0] == 3 * shape[1]:
        return [whole, *_qkv(whole, shape[1], hints.n_heads if heads else None, False)]
    if key.endswith("attention.query_key_value.weight") and hints.model_type == "gpt_neox":
        if hints.n_heads and shape[0] == 3 * shape[1]:
            return [whole, *_neox_qkv(whole, shape[1], hints.n_heads, heads)]
    if key.endswith("out_proj.weight") and heads and hints.n_heads:
        if key.removesuffix("out_proj.weight") + "in_proj_weight" in tensors:
            return [whole, *_head_columns(whole, hints.n_heads)]
    match = _RNN.search(key)
    if match and len(shape) == 2:
        return [whole, *_gates(whole, key, tensors)]
    return [whole]


def _stacked_experts(name: str, key: str, shape: tuple[int, ...]) -> list[MatrixSpec]:
    """A (num_experts, d_in, d_out) tensor: one (d_out, d_in) matrix per expert, ``.e<i>``."""

    def expert(i: int) -> Transform:
        return lambda W: W[i].mT

    return [
        MatrixSpec(f"{name}.e{i}", key, expert(i), (shape[2], shape[1])) for i in range(shape[0])
    ]


def _prod(dims: tuple[int, ...]) -> int:
    out = 1
    for d in dims:
        out *= d
    return out


def _block(parent: MatrixSpec, suffix: str, rows: slice | None, cols: slice | None) -> MatrixSpec:
    fn = parent.fn
    r = rows or slice(None)
    c = cols or slice(None)
    m = len(range(*r.indices(parent.shape[0])))
    n = len(range(*c.indices(parent.shape[1])))
    return MatrixSpec(f"{parent.name}.{suffix}", parent.key, lambda W: fn(W)[r, c], (m, n))


def _qkv(whole: MatrixSpec, d: int, n_heads: int | None, interleave: bool) -> list[MatrixSpec]:
    """q | k | v row blocks of a (3d, d) matrix, each with its heads when n_heads is given."""
    out = []
    for i, x in enumerate("qkv"):
        block = _block(whole, x, slice(i * d, (i + 1) * d), None)
        out.append(block)
        if n_heads:
            out += _head_rows(block, n_heads)
    return out


def _head_rows(block: MatrixSpec, n_heads: int) -> list[MatrixSpec]:
    dh = block.shape[0] // n_heads
    return [_block(block, f"h{h}", slice(h * dh, (h + 1) * dh), None) for h in range(n_heads)]


def _neox_qkv(whole: MatrixSpec, d: int, n_heads: int, heads: bool) -> list[MatrixSpec]:
    """GPT-NeoX stores rows as (head, q|k|v, d_head): regroup into q, k, v blocks."""
    dh, fn = d // n_heads, whole.fn
    out = []
    for i, x in enumerate("qkv"):

        def pick(W: Tensor, i: int = i) -> Tensor:
            return fn(W).reshape(n_heads, 3, dh, -1)[:, i].reshape(d, -1)

        block = MatrixSpec(f"{whole.name}.{x}", whole.key, pick, (d, whole.shape[1]))
        out.append(block)
        if heads:
            out += _head_rows(block, n_heads)
    return out


def _head_columns(whole: MatrixSpec, n_heads: int) -> list[MatrixSpec]:
    """The output projection's input columns, head by head: (d, d_head) each."""
    dh = whole.shape[1] // n_heads
    return [_block(whole, f"h{h}", None, slice(h * dh, (h + 1) * dh)) for h in range(n_heads)]


def _gates(whole: MatrixSpec, key: str, tensors: Mapping[str, TensorInfo]) -> list[MatrixSpec]:
    hh = tensors.get(re.sub(r"weight_ih_", "weight_hh_", key))
    proj = tensors.get(re.sub(r"weight_(ih|hh)_", "weight_hr_", key))
    if hh is None:
        return []
    hidden = proj.shape[1] if proj is not None else hh.shape[1]
    gates = _GATES.get(hh.shape[0] // hidden, "") if hh.shape[0] % hidden == 0 else ""
    if not gates:
        return []
    size = whole.shape[0] // len(gates)
    return [_block(whole, g, slice(i * size, (i + 1) * size), None) for i, g in enumerate(gates)]
