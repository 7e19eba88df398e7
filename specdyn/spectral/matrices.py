"""Which tensors of a model are weight matrices, and how each becomes 2-D.

A weight matrix is a parameter with ndim >= 2 (biases and norm scales are skipped). The
rules follow Appendix A of the paper:

- Linear, Embedding: as stored, (out, in) and (vocab, d).
- ConvNd: (c_out, c_in/groups, *k) flattened to (c_out, c_in/groups * prod(k)).
- ConvTransposeNd: stored (c_in, c_out/groups, *k); transposed to (c_out/groups, c_in, *k),
  then flattened.
- MultiheadAttention: the whole (3d, d) in_proj matrix, plus its q, k and v blocks, plus
  per-head blocks of each when ``heads=True``; the output projection is a Linear, and with
  ``heads=True`` also its per-head column blocks ``out_proj.h{i}`` of shape (d, d_head).
- LSTM / GRU / RNN: every weight_ih_l*/weight_hh_l* (reverse direction too) whole, plus its
  gate blocks (i, f, g, o for LSTM; r, z, n for GRU).
- Any other parameter with ndim >= 2: 2-D as is, more dims flattened after the first.

Names are the parameter's qualified name without a trailing ``.weight``, with any
``_orig_mod.`` / ``module.`` prefixes (torch.compile, DataParallel) and FSDP1's
``_fsdp_wrapped_module.`` dropped. Blocks append
``.q``/``.k``/``.v``, ``.h{i}`` for heads and the gate letter for recurrent layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from torch import Tensor, nn

_WRAPPER_PREFIXES = ("_orig_mod.", "module.")
_GATES = {"LSTM": "ifgo", "GRU": "rzn", "RNN": ""}
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def canonical_name(name: str) -> str:
    """Drop wrapper prefixes and a trailing ``.weight`` from a parameter name."""
    name = name.replace("._orig_mod.", ".")  # a compiled submodule
    name = name.replace("_fsdp_wrapped_module.", "")  # an FSDP1 unit
    while name.startswith(_WRAPPER_PREFIXES):
        name = name.split(".", 1)[1]
    return name.removesuffix(".weight")


def weight_matrices(model: nn.Module, heads: bool = False) -> dict[str, Tensor]:
    """Every weight matrix of ``model`` as an ordered mapping name -> 2-D tensor.

    Tensors are detached, and views of the parameters where the layout allows (all but
    transposed convolutions). Order is the order of ``model.named_modules()``, i.e. depth.
    """
    return dict(iter_weight_matrices(model, heads))


def iter_weight_matrices(
    model: nn.Module, heads: bool = False, whole: Callable[[Tensor], Tensor] | None = None
) -> Iterator[tuple[str, Tensor]]:
    """The (name, 2-D tensor) pairs of :func:`weight_matrices`, one at a time, each made
    when its turn comes. ``whole`` is applied to each parameter once, before it is
    flattened or cut into blocks (a sharded parameter gathered: one at a time, and its
    blocks are views of the gathered one)."""
    whole = whole or _same
    names: set[str] = set()
    seen: set[int] = set()  # a weight tied between modules comes once, under its first name
    for module_name, module in model.named_modules():  # a shared module comes once
        prefix = f"{module_name}." if module_name else ""
        for name, matrix in _module_matrices(module, heads, seen, whole):
            name = canonical_name(prefix + name)
            if name not in names:
                names.add(name)
                yield name, matrix
        seen |= {id(p) for p in module.parameters(recurse=False)}


def _same(W: Tensor) -> Tensor:
    return W


def _module_matrices(
    module: nn.Module, heads: bool, seen: set[int], whole: Callable[[Tensor], Tensor]
) -> Iterator[tuple[str, Tensor]]:
    if isinstance(module, _CONV_T):
        yield "weight", matrix_view(whole(module.weight.detach()), transposed=True)
    elif isinstance(module, nn.MultiheadAttention):
        yield from _attention_matrices(module, heads, whole)
    elif isinstance(module, nn.RNNBase):
        yield from _recurrent_matrices(module, whole)
    else:  # Linear, Embedding, ConvNd and any custom module: its own >=2-D parameters
        for name, param in module.named_parameters(recurse=False):
            if is_weight(param) and id(param) not in seen:
                yield name, matrix_view(whole(param.detach()))


def is_weight(param: Tensor) -> bool:
    """The weight rule: a parameter with ndim >= 2 is a weight matrix; biases and norm
    scales (ndim 1) are not."""
    return is_weight_shape(param.shape)


def is_weight_shape(shape: Sequence[int]) -> bool:
    """The weight rule on a tensor's shape (a checkpoint's, read before its data)."""
    return len(shape) >= 2


def matrix_view(W: Tensor, transposed: bool = False) -> Tensor:
    """A weight's matrix: (d0, d1, ...) -> (d0, d1 * ...), a view when W is contiguous;
    ``transposed`` (a transposed convolution, c_in first): (c_in, c_out/groups, *k) ->
    (c_out/groups, c_in * prod(k))."""
    if transposed:
        W = W.transpose(0, 1)
    return W if W.ndim == 2 else W.reshape(W.shape[0], -1)


def _attention_matrices(
    attn: nn.MultiheadAttention, heads: bool, whole: Callable[[Tensor], Tensor]
) -> Iterator[tuple[str, Tensor]]:
    d, n_heads = attn.embed_dim, attn.num_heads
    if attn.in_proj_weight is not None:
        W = whole(attn.in_proj_weight.detach())  # (3d, d)
        yield "in_proj_weight", W
        blocks = {
            "in_proj_weight.q": W[:d],
            "in_proj_weight.k": W[d : 2 * d],
            "in_proj_weight.v": W[2 * d :],
        }
    else:  # kdim/vdim differ from embed_dim: three separate parameters
        blocks = {f"{x}_proj_weight": getattr(attn, f"{x}_proj_weight") for x in "qkv"}
    for name, block in blocks.items():
        block = whole(block.detach())  # q/k/v of in_proj: views of the whole W already
        yield name, block
        if heads:
            d_head = block.shape[0] // n_heads
            for h in range(n_heads):
                yield f"{name}.h{h}", block[h * d_head : (h + 1) * d_head]
    if heads:  # the output projection's input columns, head by head: (d, d_head)
        W_O = whole(attn.out_proj.weight.detach())
        d_head = W_O.shape[1] // n_heads
        for h in range(n_heads):
            yield f"out_proj.h{h}", W_O[:, h * d_head : (h + 1) * d_head]


def _recurrent_matrices(
    rnn: nn.RNNBase, whole: Callable[[Tensor], Tensor]
) -> Iterator[tuple[str, Tensor]]:
    gates = _GATES[rnn.mode.split("_")[0]]  # mode: LSTM, GRU, RNN_TANH or RNN_RELU
    for name, param in rnn.named_parameters(recurse=False):
        if not is_weight(param):
            continue
        W = whole(param.detach())
        yield name, W
        if name.startswith("weight_hr") or not gates:
            continue
        size = W.shape[0] // len(gates)
        for i, gate in enumerate(gates):
            yield f"{name}.{gate}", W[i * size : (i + 1) * size]


__all__ = ["canonical_name", "iter_weight_matrices", "weight_matrices"]
