"""Decoder-only Transformer language model, Pythia-160M-like (paper Appendix A.4).

12 pre-LN blocks of d_model 768 with 12 heads and a ReLU MLP of width 768 (as the paper
states), sinusoidal positions, untied input embedding and output layer, no dropout, causal
attention. As in the authors' code: the embedding is scaled by sqrt(d_model), embedding and
output weights start uniform in [-0.1, 0.1], and there is no final LayerNorm (``final_norm``
adds one, as Pythia has). vocab_size 50304 is Pythia's padded GPT-NeoX vocabulary.

Matrix names (``weight_matrices(model, heads=True)``): ``embed`` (V, d);
``blocks.{i}.attn.in_proj_weight`` (3d, d) with ``.q .k .v`` (d, d) and heads
``.q.h{j}`` (d/h, d); ``blocks.{i}.attn.out_proj`` (d, d) with heads ``out_proj.h{j}``
(d, d/h); ``blocks.{i}.mlp.fc_in`` (W1, (d_mlp, d)); ``blocks.{i}.mlp.fc_out`` (W2,
(d, d_mlp)); ``unembed`` (V, d). Recording needs ``heads=True``: the W_Q <-> W_K and
W_V -> W_O pairs are per head. The paper's SV plot is W1 of the 8th layer
(``blocks.7.mlp.fc_in``); its alignment plot W1 -> W2 of the 8th layer.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from specdyn.models.configs import TransformerLMConfig
from specdyn.spectral.pairs import Pair, PairGroup


def sinusoidal_positions(n: int, d: int) -> Tensor:
    """(n, d) fixed sinusoidal position encodings (Vaswani et al. 2017)."""
    position = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)
    pe = torch.zeros(n, d)
    pe[:, 0::2] = torch.sin(position * freq)
    pe[:, 1::2] = torch.cos(position * freq[: d // 2])
    return pe


class MLP(nn.Module):
    def __init__(self, d: int, d_mlp: int):
        super().__init__()
        self.fc_in = nn.Linear(d, d_mlp)  # W1
        self.fc_out = nn.Linear(d_mlp, d)  # W2

    def forward(self, x: Tensor) -> Tensor:
        return self.fc_out(torch.relu(self.fc_in(x)))  # (B, T, d)


class Block(nn.Module):
    """x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, cfg: TransformerLMConfig):
        super().__init__()
        d = cfg.d_model
        self.ln_attn = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, cfg.n_heads, batch_first=True)
        self.ln_mlp = nn.LayerNorm(d)
        self.mlp = MLP(d, cfg.d_mlp)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.ln_attn(x)  # (B, T, d)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False, is_causal=True)[0]
        return x + self.mlp(self.ln_mlp(x))  # (B, T, d)


class TransformerLM(nn.Module):
    """tokens (B, T), T <= context -> next-token logits (B, T, vocab_size)."""

    pos: Tensor  # (context, d_model) sinusoidal positions, a buffer

    def __init__(self, cfg: TransformerLMConfig):
        super().__init__()
        self.config = cfg
        d = cfg.d_model
        self.embed = nn.Embedding(cfg.vocab_size, d)
        self.register_buffer("pos", sinusoidal_positions(cfg.context, d), persistent=False)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_final = nn.LayerNorm(d) if cfg.final_norm else nn.Identity()
        self.unembed = nn.Linear(d, cfg.vocab_size)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        nn.init.uniform_(self.unembed.weight, -0.1, 0.1)
        nn.init.zeros_(self.unembed.bias)

    def forward(self, tokens: Tensor) -> Tensor:
        T = tokens.shape[1]
        if T > self.config.context:
            raise ValueError(f"sequence of {T} tokens exceeds the context {self.config.context}")
        x = self.embed(tokens) * math.sqrt(self.config.d_model) + self.pos[:T]  # (B, T, d)
        mask = torch.ones(T, T, dtype=torch.bool, device=tokens.device).triu(1)  # True: hidden
        for block in self.blocks:
            x = block(x, mask)  # (B, T, d)
        return self.unembed(self.ln_final(x))  # (B, T, vocab_size)


def alignment_pairs(cfg: TransformerLMConfig) -> list[Pair | PairGroup]:
    """Per block i (Appendix A.4; residual connections ignored), needs ``heads=True``:

    - ``blocks.{i}.attn.q<->k``: W_Q vs W_K head by head, both left bases (the d/h space
      where queries meet keys), averaged over heads;
    - ``blocks.{i}.attn.v->o``: W_V head -> its W_O columns, averaged over heads;
    - out_proj -> mlp.fc_in, mlp.fc_in -> mlp.fc_out, mlp.fc_out -> next block's in_proj;
    plus embed -> blocks.0's in_proj (the embedding outputs along V) and the last fc_out ->
    unembed. 5 * n_layers + 1 entries.
    """
    pairs: list[Pair | PairGroup] = [Pair("embed", "blocks.0.attn.in_proj_weight", "V")]
    for i in range(cfg.n_layers):
        attn, mlp = f"blocks.{i}.attn", f"blocks.{i}.mlp"
        heads = range(cfg.n_heads)
        qk = (
            Pair(f"{attn}.in_proj_weight.q.h{h}", f"{attn}.in_proj_weight.k.h{h}", "U", "U")
            for h in heads
        )
        vo = (Pair(f"{attn}.in_proj_weight.v.h{h}", f"{attn}.out_proj.h{h}") for h in heads)
        nxt = f"blocks.{i + 1}.attn.in_proj_weight" if i + 1 < cfg.n_layers else "unembed"
        pairs += [
            PairGroup(f"{attn}.q<->k", tuple(qk)),
            PairGroup(f"{attn}.v->o", tuple(vo)),
            Pair(f"{attn}.out_proj", f"{mlp}.fc_in"),
            Pair(f"{mlp}.fc_in", f"{mlp}.fc_out"),
            Pair(f"{mlp}.fc_out", nxt),
        ]
    return pairs
