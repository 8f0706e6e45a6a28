"""Sliding-window assembly encoder.

A function's token sequence of length L is cut into K windows of W tokens with
stride S, K = ceil((L - W) / S) + 1 (one window when L <= W). Window k covers
positions [k*S, min(k*S + W, L)). All windows run through the wrapped Hugging
Face encoder as one batch, and each position's feature is the mean of the
features that the windows covering it produced.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from torch import nn

from binbridge.model.config import EncoderConfig
from binbridge.model.fast_attention import use_fused_attention

logger = logging.getLogger(__name__)


def count_windows(length: int, window_size: int, stride: int) -> int:
    """Return K, the number of windows that cover ``length`` tokens."""
    if length <= window_size:
        return 1
    return math.ceil((length - window_size) / stride) + 1


def window_starts(length: int, window_size: int, stride: int) -> list[int]:
    """Return the first position of every window."""
    return [k * stride for k in range(count_windows(length, window_size, stride))]


@dataclass
class EncoderOutput:
    """Per-token features of a batch of functions."""

    hidden_states: torch.Tensor  # [B, L, D]
    attention_mask: torch.Tensor  # [B, L], 1 for real tokens


class SlidingWindowEncoder(nn.Module):
    """Wraps a Hugging Face encoder so that it reads sequences of any length."""

    def __init__(self, encoder: nn.Module, config: EncoderConfig, pad_token_id: int = 0) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = config
        self.pad_token_id = pad_token_id
        use_fused_attention(self.encoder)
        if config.freeze_encoder:
            self.encoder.requires_grad_(False)
            self.encoder.eval()

    @property
    def hidden_size(self) -> int:
        return int(self.encoder.config.hidden_size)

    def train(self, mode: bool = True) -> "SlidingWindowEncoder":
        super().train(mode)
        if self.config.freeze_encoder:
            # A frozen encoder keeps dropout off even while the rest of the model trains.
            self.encoder.eval()
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> EncoderOutput:
        B, L = input_ids.shape
        W = min(self.config.window_size, L)
        S = self.config.stride
        K = count_windows(L, W, S)
        padded_length = (K - 1) * S + W

        # Pad the tail so that the last window is full: [B, L] -> [B, padded_length].
        pad = padded_length - L
        ids = nn.functional.pad(input_ids, (0, pad), value=self.pad_token_id)
        mask = nn.functional.pad(attention_mask, (0, pad), value=0)

        # Cut windows: [B, padded_length] -> [B, K, W] -> [B*K, W].
        window_ids = ids.unfold(1, W, S).reshape(B * K, W)
        window_mask = mask.unfold(1, W, S)  # [B, K, W]
        # A row keeps only the K_b windows its own length needs, so its features do not depend
        # on how long the other rows of the batch are.
        lengths = attention_mask.sum(dim=1)  # [B]
        own_windows = torch.where(lengths <= W, torch.ones_like(lengths),
                                  torch.div(lengths - W + S - 1, S, rounding_mode="floor") + 1)  # [B]
        live = torch.arange(K).unsqueeze(0) < own_windows.unsqueeze(1)  # [B, K]
        window_mask = (window_mask * live.unsqueeze(-1)).reshape(B * K, W)

        window_features = self._encode_windows(window_ids, window_mask)  # [B*K, W, D]
        D = window_features.shape[-1]

        # Overlap-average: scatter every window position back to its absolute position.
        # positions[k, w] = k*S + w, shape [K, W] -> flat [K*W].
        positions = (torch.arange(K).unsqueeze(1) * S + torch.arange(W).unsqueeze(0)).reshape(K * W)
        weights = window_mask.reshape(B, K * W).to(window_features.dtype)  # [B, K*W]
        values = window_features.reshape(B, K * W, D) * weights.unsqueeze(-1)  # [B, K*W, D]
        summed = values.new_zeros(B, padded_length, D).index_add_(1, positions, values)
        counts = weights.new_zeros(B, padded_length).index_add_(1, positions, weights)
        hidden = summed / counts.clamp(min=1.0).unsqueeze(-1)  # [B, padded_length, D]

        return EncoderOutput(hidden_states=hidden[:, :L], attention_mask=attention_mask)

    def _encode_windows(self, window_ids: torch.Tensor, window_mask: torch.Tensor) -> torch.Tensor:
        N, W = window_ids.shape
        # Windows made only of padding are skipped; their features stay zero and carry zero weight.
        live = window_mask.any(dim=1)
        live_ids = window_ids[live]
        live_mask = window_mask[live]
        chunk = self.config.window_batch_size or max(1, live_ids.shape[0])

        pieces = []
        grad_enabled = torch.is_grad_enabled() and not self.config.freeze_encoder
        device_type = live_ids.device.type
        use_bf16 = self.config.compute_dtype == "bfloat16"
        with torch.set_grad_enabled(grad_enabled), torch.autocast(device_type, torch.bfloat16, enabled=use_bf16):
            for start in range(0, live_ids.shape[0], chunk):
                out = self.encoder(input_ids=live_ids[start:start + chunk],
                                   attention_mask=live_mask[start:start + chunk])
                pieces.append(out.last_hidden_state.float())  # [chunk, W, D]
        live_features = torch.cat(pieces, dim=0)  # [N_live, W, D]

        features = live_features.new_zeros(N, W, live_features.shape[-1])  # [N, W, D]
        features[live] = live_features
        return features
