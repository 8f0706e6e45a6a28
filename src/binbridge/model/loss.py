"""Mixed loss over token spans: analysis_weight * CE(analysis) + name_weight * CE(name).

Every target token carries a span kind. Each cross-entropy term is the mean
over all tokens of its kind in the batch. A term whose span is empty in the
whole batch (training without chain-of-thought) contributes zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from binbridge.model.config import LossConfig

SPAN_IGNORE = 0  # prompt and padding tokens: no loss
SPAN_ANALYSIS = 1
SPAN_NAME = 2


@dataclass
class LossOutput:
    loss: torch.Tensor
    analysis_loss: torch.Tensor
    name_loss: torch.Tensor
    analysis_tokens: int
    name_tokens: int


def _span_mean(token_losses: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    count = mask.sum()
    if count == 0:
        return token_losses.new_zeros(())
    return (token_losses * mask).sum() / count


def mixed_loss(logits: torch.Tensor, input_ids: torch.Tensor, span_kinds: torch.Tensor,
               config: LossConfig) -> LossOutput:
    """Compute the mixed loss of a causal LM over the spans of ``input_ids``.

    logits [B, T, V] predict the token after each position; ``input_ids`` and
    ``span_kinds`` are [B, T] and aligned with the logits' positions.
    """
    B, T, V = logits.shape
    # Position t predicts token t+1: drop the last logit and the first target.
    shifted_logits = logits[:, :-1].reshape(B * (T - 1), V).float()  # [B*(T-1), V]
    targets = input_ids[:, 1:].reshape(B * (T - 1))  # [B*(T-1)]
    kinds = span_kinds[:, 1:].reshape(B * (T - 1))  # [B*(T-1)]

    token_losses = F.cross_entropy(shifted_logits, targets, reduction="none")  # [B*(T-1)]
    analysis_mask = (kinds == SPAN_ANALYSIS).float()
    name_mask = (kinds == SPAN_NAME).float()

    analysis_loss = _span_mean(token_losses, analysis_mask)
    name_loss = _span_mean(token_losses, name_mask)
    loss = config.analysis_weight * analysis_loss + config.name_weight * name_loss
    return LossOutput(
        loss=loss,
        analysis_loss=analysis_loss.detach(),
        name_loss=name_loss.detach(),
        analysis_tokens=int(analysis_mask.sum().item()),
        name_tokens=int(name_mask.sum().item()),
    )
