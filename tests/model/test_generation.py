"""Greedy decoding with and without classifier-free guidance, and prompt dropout in training."""

import torch

from binbridge.model.config import BinbridgeConfig, DecoderConfig, EncoderConfig, QFormerConfig
from binbridge.model.loading import build_model
from binbridge.model.prompting import encode_target


def make_model(tiny_components, **overrides):
    config = BinbridgeConfig(
        encoder=EncoderConfig(model_path=str(tiny_components / "encoder"), window_size=16, stride=8,
                              max_seq_length=128),
        qformer=QFormerConfig(num_query_tokens=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, dropout=0.0),
        decoder=DecoderConfig(model_path=str(tiny_components / "decoder"), lora_r=4, lora_alpha=8,
                              train_base_weights=True),
        **overrides,
    )
    return build_model(config, trainable=True)


def test_guided_generation_returns_one_name_per_row(tiny_components):
    model = make_model(tiny_components, guidance_scale=3.0).eval()
    features = torch.randn(3, 10, 32)
    mask = torch.ones(3, 10, dtype=torch.long)
    results = model.generate(features, mask, max_new_tokens=5)
    assert len(results) == 3
    for result in results:
        assert 0.0 <= result.confidence <= 1.0


def test_guidance_scale_one_matches_plain_greedy(tiny_components):
    model = make_model(tiny_components).eval()
    features = torch.randn(2, 10, 32)
    mask = torch.ones(2, 10, dtype=torch.long)
    plain = [r.raw_text for r in model.generate(features, mask, max_new_tokens=6)]
    model.config.guidance_scale = 1.0
    assert [r.raw_text for r in model.generate(features, mask, max_new_tokens=6)] == plain


def test_full_prompt_dropout_ignores_features(tiny_components):
    model = make_model(tiny_components, guidance_dropout=0.999999).train()
    target = encode_target(model.decoder_tokenizer, model.config.prompt, "parse_config", None)
    ids = torch.tensor([target.input_ids])
    kinds = torch.tensor([target.span_kinds])
    mask = torch.ones(1, 6, dtype=torch.long)
    torch.manual_seed(0)
    first = model(torch.randn(1, 6, 32), mask, ids, torch.ones_like(ids), kinds).loss
    torch.manual_seed(0)
    second = model(torch.randn(1, 6, 32) * 5, mask, ids, torch.ones_like(ids), kinds).loss
    assert torch.allclose(first, second), "a dropped prompt is the null prompt whatever the features"


def _generated_token_rows(model, features, mask, steps):
    rows = []
    decode_row = model._decode_row

    def record(token_ids, log_probs):
        eos = model.decoder_tokenizer.eos_token_id
        rows.append(token_ids[: token_ids.index(eos)] if eos in token_ids else token_ids)
        return decode_row(token_ids, log_probs)

    model._decode_row = record
    model.generate(features, mask, max_new_tokens=steps)
    return rows


def test_repetition_penalty_stops_repeated_tokens(tiny_components):
    model = make_model(tiny_components).eval()
    torch.manual_seed(1)
    features = torch.randn(4, 10, 32)
    mask = torch.ones(4, 10, dtype=torch.long)
    plain = _generated_token_rows(model, features, mask, 24)
    assert any(len(set(row)) < len(row) for row in plain), "a random decoder repeats itself over 24 tokens"
    model.config.repetition_penalty = 1e9
    penalised = _generated_token_rows(model, features, mask, 24)
    assert all(len(set(row)) == len(row) for row in penalised)
