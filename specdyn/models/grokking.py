"""The one-layer Transformer of the grokking experiment (paper Section 3, Appendix A.6).

Nanda et al. (2023) with sinusoidal positions: tokens [a, b, =] (= is token p), d_model 128,
4 heads, ReLU MLP 512, no LayerNorm, attention biases on, logits at the last position.

The model has one layer and the loss reads only the last position, so attention is computed
for the last query only and the MLP runs on the last position only: the same function and
the same gradients as running every position, at a third of the cost.
"""

from __future__ import annotations

from torch import Tensor, nn

from specdyn.models.configs import GrokkingModel
from specdyn.models.transformer_lm import sinusoidal_positions
from specdyn.spectral.pairs import Pair, PairGroup


class OneLayerTransformer(nn.Module):
    """Embedding -> attention -> ReLU MLP -> unembedding, residual stream of width d."""

    pos: Tensor  # (3, d) sinusoidal positions, a buffer

    def __init__(self, p: int, cfg: GrokkingModel):
        super().__init__()
        d = cfg.d_model
        self.embed = nn.Embedding(p + 1, d)  # p numbers and the "=" token
        self.register_buffer("pos", sinusoidal_positions(3, d))
        self.ln_attn = nn.LayerNorm(d) if cfg.layer_norm else nn.Identity()
        self.attn = nn.MultiheadAttention(d, cfg.n_heads, bias=True, batch_first=True)
        self.ln_mlp = nn.LayerNorm(d) if cfg.layer_norm else nn.Identity()
        self.mlp = nn.Sequential()
        self.mlp.add_module("fc_in", nn.Linear(d, cfg.d_mlp))
        self.mlp.add_module("relu", nn.ReLU())
        self.mlp.add_module("fc_out", nn.Linear(cfg.d_mlp, d))
        self.ln_final = nn.LayerNorm(d) if cfg.layer_norm else nn.Identity()
        self.unembed = nn.Linear(d, p, bias=False)

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (B, 3) -> logits (B, p) at the last position."""
        h = self.embed(tokens) + self.pos  # (B, 3, d)
        x = self.ln_attn(h)
        q = x[:, -1:]  # (B, 1, d): the last query sees every position, no mask needed
        h = h[:, -1:] + self.attn(q, x, x, need_weights=False)[0]
        h = h + self.mlp(self.ln_mlp(h))
        return self.unembed(self.ln_final(h))[:, 0]  # (B, p)


def alignment_pairs(
    cfg: GrokkingModel | None = None, heads: bool = False
) -> list[Pair | PairGroup]:
    """Consecutive matrices along the residual path (residual connections ignored); with
    ``heads`` (per-head blocks recorded: ``record.heads=true``) also the authors' per-head
    query-key alignment ``attn.q<->k``: W_Q and W_K split into heads, |U_q^T U_k| of each
    head (both left bases: the d/h space where queries meet keys), averaged over heads."""
    pairs: list[Pair | PairGroup] = [
        Pair("embed", "attn.in_proj_weight", prev_side="V"),  # embed is (vocab, d)
        Pair("attn.in_proj_weight.v", "attn.out_proj"),
        Pair("attn.out_proj", "mlp.fc_in"),
        Pair("mlp.fc_in", "mlp.fc_out"),
        Pair("mlp.fc_out", "unembed"),
    ]
    if heads:
        n_heads = (cfg or GrokkingModel()).n_heads
        qk = tuple(
            Pair(f"attn.in_proj_weight.q.h{h}", f"attn.in_proj_weight.k.h{h}", "U", "U")
            for h in range(n_heads)
        )
        pairs.append(PairGroup("attn.q<->k", qk))
    return pairs
