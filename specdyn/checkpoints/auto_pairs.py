"""``--pairs auto``: consecutive-layer pairs (paper Eq. 3) from matrix names and shapes.

Transformer blocks (``...h.N.``, ``...layers.N.``, ``...blocks.N.``) of three layouts, along
the residual path as specdyn's own Transformer tasks pair them (residuals ignored):

    GPT-2   attn.c_attn.v -> attn.c_proj -> mlp.c_fc -> mlp.c_proj -> next block's attn.c_attn
    NeoX    attention.query_key_value.v -> attention.dense -> mlp.dense_h_to_4h
            -> mlp.dense_4h_to_h -> next block's attention.query_key_value
    LLaMA   self_attn.v_proj -> self_attn.o_proj -> mlp.up_proj (and mlp.gate_proj)
            -> mlp.down_proj -> next block's self_attn.q_proj

plus the token embedding into block 0 (its V side: it is stored (vocab, d)) and the last
block into the output head. Anything else is paired as a plain stack: each matrix with the
next one in storage order when the first's outputs are the second's inputs (a convolution's
input channels, its centre position used). Matrices left out are reported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from specdyn.checkpoints.mapping import Spec
from specdyn.spectral.pairs import Pair

_BLOCK = re.compile(r"^(.*?)(h|layers|blocks|layer)\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class Layout:
    name: str
    chain: tuple[tuple[str, ...], ...]  # steps of a block; a step may hold alternatives
    v_split: str  # the value block paired with the output projection
    embeddings: tuple[str, ...]
    heads: tuple[str, ...]


LAYOUTS = (
    Layout(
        "gpt2",
        (("attn.c_attn",), ("attn.c_proj",), ("mlp.c_fc",), ("mlp.c_proj",)),
        "attn.c_attn.v",
        ("wte",),
        ("lm_head",),
    ),
    Layout(
        "gpt_neox",
        (
            ("attention.query_key_value",),
            ("attention.dense",),
            ("mlp.dense_h_to_4h",),
            ("mlp.dense_4h_to_h",),
        ),
        "attention.query_key_value.v",
        ("embed_in",),
        ("embed_out",),
    ),
    Layout(
        "llama",
        (
            ("self_attn.q_proj",),
            ("self_attn.o_proj",),
            ("mlp.up_proj", "mlp.gate_proj"),
            ("mlp.down_proj",),
        ),
        "self_attn.v_proj",
        ("embed_tokens",),
        ("lm_head",),
    ),
)


@dataclass(frozen=True)
class AutoPairs:
    pairs: tuple[Pair, ...]
    layout: str  # "gpt2", "gpt_neox", "llama", "stack"
    unpaired: tuple[str, ...]  # whole matrices in no pair


def auto_pairs(specs: Sequence[Spec], kernels: dict[str, tuple[int, ...]]) -> AutoPairs:
    """Pairs for the matrices of ``specs``; ``kernels``: name -> spatial kernel of convs."""
    shapes = {s.name: s.shape for s in specs}
    for layout in LAYOUTS:
        pairs = _transformer(layout, shapes)
        if pairs:
            return _result(pairs, layout.name, specs)
    return _result(_stack(specs, kernels), "stack", specs)


def _result(pairs: list[Pair], layout: str, specs: Sequence[Spec]) -> AutoPairs:
    pairs = [p for p in pairs if _compatible(p, {s.name: s.shape for s in specs})]
    used = {p.prev for p in pairs} | {p.next for p in pairs}
    wholes = [s.name for s in specs if s.name.rsplit(".", 1)[0] + "." not in _prefixes(specs)]
    unpaired = [n for n in wholes if n not in used and not _is_block(n, used)]
    return AutoPairs(tuple(pairs), layout, tuple(unpaired))


def _prefixes(specs: Sequence[Spec]) -> set[str]:
    return {s.name + "." for s in specs}


def _is_block(name: str, used: set[str]) -> bool:
    return any(u.startswith(name + ".") for u in used)


def _compatible(p: Pair, shapes: dict[str, tuple[int, int]]) -> bool:
    if p.prev not in shapes or p.next not in shapes:
        return False
    a = shapes[p.prev][0 if p.prev_side == "U" else 1]
    b = shapes[p.next][0 if p.next_side == "U" else 1]
    if p.next_kernel:
        size = 1
        for k in p.next_kernel:
            size *= k
        b //= size
    return a == b


def _transformer(layout: Layout, shapes: dict[str, tuple[int, int]]) -> list[Pair]:
    blocks: dict[int, str] = {}
    for name in shapes:
        m = _BLOCK.match(name)
        if m and m.group(4) in {x for step in layout.chain for x in step}:
            blocks.setdefault(int(m.group(3)), f"{m.group(1)}{m.group(2)}.{m.group(3)}.")
    if not blocks:
        return []
    order = [blocks[i] for i in sorted(blocks)]
    root = _BLOCK.match(order[0] + "x")
    prefix = root.group(1) if root else ""
    pairs: list[Pair] = []
    embed = _find(shapes, prefix, layout.embeddings)
    if embed:
        pairs.append(Pair(embed, order[0] + layout.chain[0][0], prev_side="V"))
    for i, block in enumerate(order):
        pairs.append(Pair(block + layout.v_split, block + layout.chain[1][0]))
        for prev_step, next_step in zip(layout.chain[1:], layout.chain[2:], strict=False):
            pairs += [Pair(block + a, block + b) for a in prev_step for b in next_step]
        last = block + layout.chain[-1][0]
        if i + 1 < len(order):
            pairs.append(Pair(last, order[i + 1] + layout.chain[0][0]))
        else:
            head = _find(shapes, "", layout.heads) or embed
            if head:
                pairs.append(Pair(last, head))
    return pairs


def _find(shapes: dict[str, tuple[int, int]], prefix: str, names: tuple[str, ...]) -> str | None:
    for name in shapes:
        if any(name == prefix + n or name.endswith("." + n) or name == n for n in names):
            return name
    return None


def _stack(specs: Sequence[Spec], kernels: dict[str, tuple[int, ...]]) -> list[Pair]:
    wholes = [s for s in specs if s.name.rsplit(".", 1)[0] + "." not in _prefixes(specs)]
    pairs = []
    for a, b in zip(wholes, wholes[1:], strict=False):
        kernel = kernels.get(b.name, ())
        inputs = b.shape[1]
        for k in kernel:
            inputs //= k
        if a.shape[0] == inputs:
            pairs.append(Pair(a.name, b.name, next_kernel=kernel))
    return pairs
