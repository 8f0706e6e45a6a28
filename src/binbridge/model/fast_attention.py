"""Fused attention for RoFormer encoders.

transformers implements RoFormer, the architecture of CLAP-ASM and of the tiny
preset's encoder, with eager attention only. A matmul for the scores, a
division, a mask addition, a softmax and a second matmul each write a
[N, heads, W, W] tensor. Naming GNU ``as`` on two CPU cores, that was about 40%
of the encoder's time. ``use_fused_attention`` switches the self-attention modules of a loaded
encoder to one ``scaled_dot_product_attention`` call. The projections, the
rotary embedding and the weights stay those of the original module, so the
outputs are the same up to rounding.

Calls that need what the fused path does not give (attention weights, a KV
cache, cross-attention) go through the original code unchanged.
"""

from __future__ import annotations

import functools
import inspect
import logging

import torch
from torch import nn

logger = logging.getLogger(__name__)


@functools.cache
def _fused_class(eager_class: type) -> type:
    """Return a subclass of ``eager_class`` whose plain self-attention runs as one fused call."""

    class FusedRoFormerSelfAttention(eager_class):
        def forward(self, hidden_states, attention_mask=None, sinusoidal_pos=None, encoder_hidden_states=None,
                    cache=None, output_attentions=False, **kwargs):
            if encoder_hidden_states is not None or cache is not None or output_attentions:
                return super().forward(hidden_states, attention_mask=attention_mask, sinusoidal_pos=sinusoidal_pos,
                                       encoder_hidden_states=encoder_hidden_states, cache=cache,
                                       output_attentions=output_attentions, **kwargs)
            N, W, _ = hidden_states.shape
            heads, Dh = self.num_attention_heads, self.attention_head_size
            # [N, W, heads*Dh] -> [N, W, heads, Dh] -> [N, heads, W, Dh]
            query = self.query(hidden_states).view(N, W, heads, Dh).transpose(1, 2)
            key = self.key(hidden_states).view(N, W, heads, Dh).transpose(1, 2)
            value = self.value(hidden_states).view(N, W, heads, Dh).transpose(1, 2)
            if sinusoidal_pos is not None:
                if self.rotary_value:
                    query, key, value = self.apply_rotary_position_embeddings(sinusoidal_pos, query, key, value)
                else:
                    query, key = self.apply_rotary_position_embeddings(sinusoidal_pos, query, key)
            if attention_mask is not None and attention_mask.dtype != torch.bool:
                attention_mask = attention_mask.to(query.dtype)  # additive [N, 1, 1 or W, W]
            dropout = self.dropout.p if self.training else 0.0
            # [N, heads, W, Dh] attends over [N, heads, W, Dh] -> [N, heads, W, Dh]
            context = nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask,
                                                                 dropout_p=dropout)
            context = context.transpose(1, 2).reshape(N, W, heads * Dh)  # [N, heads, W, Dh] -> [N, W, heads*Dh]
            return context, None

    FusedRoFormerSelfAttention.__name__ = f"Fused{eager_class.__name__}"
    FusedRoFormerSelfAttention.__qualname__ = FusedRoFormerSelfAttention.__name__
    return FusedRoFormerSelfAttention


# The eager forward's parameters that the fused forward takes over, in order (transformers 5.x).
# NOTE: only transformers 5.25 was tested; other 5.x releases may differ in ways this check does not see.
_EAGER_PARAMETERS = ("self", "hidden_states", "attention_mask", "sinusoidal_pos", "encoder_hidden_states", "cache",
                     "output_attentions")


def _matches_eager_signature(eager_class: type) -> bool:
    """Return whether ``eager_class.forward`` takes the arguments the fused forward was written for.

    A forward with other parameters (older releases may call the cache
    ``past_key_values``) keeps its eager attention, because the fused forward
    could drop one of them.
    """
    forward = inspect.unwrap(eager_class.forward)
    names = [p.name for p in inspect.signature(forward).parameters.values()
             if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    return tuple(names) == _EAGER_PARAMETERS


def use_fused_attention(model: nn.Module) -> int:
    """Switch every RoFormer self-attention module of ``model`` to fused attention and return how many changed.

    Models of other architectures are left alone and 0 is returned, because
    many of them already choose fused attention through ``attn_implementation``.
    """
    try:
        from transformers.models.roformer.modeling_roformer import RoFormerSelfAttention
    except ImportError:  # a transformers build without RoFormer
        return 0
    if not _matches_eager_signature(RoFormerSelfAttention):
        logger.info("RoFormer attention of this transformers version has an unexpected signature, so it stays eager")
        return 0
    fused = _fused_class(RoFormerSelfAttention)
    changed = 0
    for module in model.modules():
        if type(module) is RoFormerSelfAttention:
            module.__class__ = fused
            changed += 1
    if changed:
        logger.debug("fused attention in %d RoFormer self-attention modules", changed)
    return changed
