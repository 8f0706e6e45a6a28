"""BLIP-2-style Q-Former: learnable queries that read the encoder features.

Each layer runs self-attention among the queries and a feed-forward block.
Layers 0, f, 2f, ... (f = ``cross_attention_freq``) also cross-attend from the
queries into the encoder features, with the encoder's padding masked out.
Sub-layers are pre-norm (LayerNorm before each block, one more at the end),
which trains stably from random initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from binbridge.model.config import QFormerConfig


class QFormerLayer(nn.Module):
    def __init__(self, config: QFormerConfig, has_cross_attention: bool) -> None:
        super().__init__()
        d = config.hidden_size
        heads = config.num_attention_heads
        self.has_cross_attention = has_cross_attention

        self.self_norm = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.self_attention = nn.MultiheadAttention(d, heads, dropout=config.dropout, batch_first=True)
        if has_cross_attention:
            self.cross_norm = nn.LayerNorm(d, eps=config.layer_norm_eps)
            self.cross_attention = nn.MultiheadAttention(
                d, heads, dropout=config.dropout, batch_first=True,
                kdim=config.encoder_hidden_size, vdim=config.encoder_hidden_size,
            )
        self.ffn_norm = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.ffn = nn.Sequential(
            nn.Linear(d, config.intermediate_size),
            nn.GELU(),
            nn.Linear(config.intermediate_size, d),
        )
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, queries: torch.Tensor, encoder_states: torch.Tensor,
                encoder_padding: torch.Tensor) -> torch.Tensor:
        # queries [B, Q, d]; encoder_states [B, L, De]; encoder_padding [B, L], True where padded.
        h = self.self_norm(queries)
        attended, _ = self.self_attention(h, h, h, need_weights=False)  # [B, Q, d] attends over Q
        queries = queries + self.dropout(attended)

        if self.has_cross_attention:
            h = self.cross_norm(queries)
            # [B, Q, d] queries attend over [B, L, De] keys/values -> [B, Q, d]
            attended, _ = self.cross_attention(h, encoder_states, encoder_states,
                                               key_padding_mask=encoder_padding, need_weights=False)
            queries = queries + self.dropout(attended)

        queries = queries + self.dropout(self.ffn(self.ffn_norm(queries)))
        return queries


FEATURE_STATISTICS = ("feature_shift", "feature_scale")


class QFormer(nn.Module):
    """Maps [B, L, De] encoder features to [B, Q, d] query outputs.

    The encoder features are first standardised per channel with statistics of
    the training features (``set_feature_statistics``). Encoder outputs are
    anisotropic: every token vector shares a large common component, so at
    initialisation the attention keys of all tokens look alike, attention is
    uniform and every function yields nearly the same queries. Standardising
    leaves only the part that differs between tokens.
    """

    def __init__(self, config: QFormerConfig) -> None:
        super().__init__()
        self.config = config
        De = config.encoder_hidden_size
        # Identity until set_feature_statistics runs; saved with the model.
        self.register_buffer("feature_shift", torch.zeros(De))
        self.register_buffer("feature_scale", torch.ones(De))
        self.query_tokens = nn.Parameter(torch.randn(1, config.num_query_tokens, config.hidden_size) * 0.02)
        cross = set(config.cross_attention_layers())
        self.layers = nn.ModuleList(QFormerLayer(config, i in cross) for i in range(config.num_hidden_layers))
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    @torch.no_grad()
    def set_feature_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Standardise encoder features with per-channel ``mean`` and ``std`` [De] from now on."""
        self.feature_shift.copy_(mean)
        self.feature_scale.copy_(1.0 / std.clamp_min(1e-4))

    def forward(self, encoder_states: torch.Tensor, encoder_mask: torch.Tensor) -> torch.Tensor:
        B, L, De = encoder_states.shape
        encoder_states = (encoder_states - self.feature_shift) * self.feature_scale  # [B, L, De], per channel
        padding = encoder_mask == 0  # [B, L]
        # A row with no real token would give NaN attention; let it attend to position 0 instead.
        empty = padding.all(dim=1)
        if empty.any():
            padding = padding.clone()
            padding[empty, 0] = False

        queries = self.dropout(self.query_tokens.expand(B, -1, -1))  # [1, Q, d] -> [B, Q, d]
        for layer in self.layers:
            queries = layer(queries, encoder_states, padding)
        return self.final_norm(queries)
