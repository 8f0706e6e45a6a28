"""Fused RoFormer attention gives the eager module's outputs."""

import copy

import pytest
import torch
from transformers import RoFormerConfig, RoFormerModel

from binbridge.model.fast_attention import use_fused_attention


def _roformer(rotary_value: bool) -> RoFormerModel:
    torch.manual_seed(0)
    config = RoFormerConfig(vocab_size=50, hidden_size=32, embedding_size=32, num_hidden_layers=2,
                            num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
                            rotary_value=rotary_value)
    return RoFormerModel(config).eval()


@pytest.mark.parametrize("rotary_value", [False, True])
def test_fused_attention_matches_eager(rotary_value):
    eager = _roformer(rotary_value)
    fused = copy.deepcopy(eager)
    assert use_fused_attention(fused) == 2
    ids = torch.randint(5, 50, (3, 20))  # [B, W]
    mask = torch.ones(3, 20, dtype=torch.long)
    mask[1, 12:] = 0  # padded rows
    mask[2, 3:] = 0
    with torch.no_grad():
        expected = eager(input_ids=ids, attention_mask=mask).last_hidden_state
        got = fused(input_ids=ids, attention_mask=mask).last_hidden_state
    real = mask.bool()
    assert torch.allclose(got[real], expected[real], atol=1e-5)


def test_attention_weights_stay_eager():
    fused = _roformer(False)
    use_fused_attention(fused)
    ids = torch.randint(5, 50, (2, 10))
    with torch.no_grad():
        out = fused(input_ids=ids, output_attentions=True)
    assert len(out.attentions) == 2
    assert out.attentions[0].shape == (2, 4, 10, 10)


def test_fused_attention_trains():
    fused = _roformer(False).train()
    use_fused_attention(fused)
    ids = torch.randint(5, 50, (2, 10))
    fused(input_ids=ids).last_hidden_state.sum().backward()
    assert fused.encoder.layer[0].attention.self.query.weight.grad is not None


def test_other_architectures_are_left_alone():
    assert use_fused_attention(torch.nn.Linear(2, 2)) == 0


def test_other_eager_signatures_stay_eager():
    from binbridge.model.fast_attention import _matches_eager_signature

    class OlderAttention(torch.nn.Module):
        def forward(self, hidden_states, attention_mask=None, sinusoidal_pos=None, encoder_hidden_states=None,
                    past_key_values=None, output_attentions=False, cache_position=None):
            return hidden_states

    assert not _matches_eager_signature(OlderAttention)
