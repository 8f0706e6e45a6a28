"""Greedy decoding with and without classifier-free guidance, and prompt dropout in training."""

import pytest
import torch

from binbridge.model.binbridge import NameStartPrior, guide_name_start
from binbridge.model.config import BinbridgeConfig, DecoderConfig, EncoderConfig, QFormerConfig
from binbridge.model.loading import build_model
from binbridge.model.loss import SPAN_NAME
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


def _texts(model, features, mask):
    return [r.raw_text for r in model.generate(features, mask, max_new_tokens=6)]


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


def test_name_start_guidance_rows_at_name_start():
    # The prior gives token 0 probability 0.9; this function gives token 1 four times its prior.
    prior = NameStartPrior(marker_ids=[7, 8], log_probs=torch.tensor([0.9, 0.1]).log())
    scores = torch.tensor([[0.6, 0.4], [0.6, 0.4]]).log()  # [B=2, V=2]
    written = torch.tensor([[7, 8], [5, 8]])  # [B, t]: row 0 just wrote the marker, row 1 did not.
    guided = guide_name_start(scores, written, prior, scale=4.0)
    # Row 0: log 0.6 + 3 (log 0.6 - log 0.9) = -1.727 against log 0.4 + 3 (log 0.4 - log 0.1) = 3.243.
    assert torch.allclose(guided[0], torch.tensor([-1.7274, 3.2426]), atol=1e-3)
    assert torch.equal(guided[1], scores[1])


def test_name_start_guidance_partial_marker():
    prior = NameStartPrior(marker_ids=[7, 8], log_probs=torch.tensor([0.9, 0.1]).log())
    scores = torch.tensor([[0.6, 0.4]]).log()
    assert torch.equal(guide_name_start(scores, torch.tensor([[8]]), prior, scale=4.0), scores)


def test_marker_ids_start_encoded_names(tiny_components):
    model = make_model(tiny_components).eval()
    marker_ids = model._name_marker_ids()
    assert marker_ids
    for name in ("parse_config", "x", "zstd_compress"):
        target = encode_target(model.decoder_tokenizer, model.config.prompt, name, None)
        name_ids = [i for i, kind in zip(target.input_ids, target.span_kinds) if kind == SPAN_NAME]
        assert name_ids[: len(marker_ids)] == marker_ids


def test_name_start_prior_is_a_distribution(tiny_components):
    model = make_model(tiny_components).eval()
    assert model.name_start_prior() is None, "guidance 1 is off"
    model.config.name_start_guidance = 4.0
    prior = model.name_start_prior()
    assert prior.log_probs.shape == (model.language_model.config.vocab_size,)
    assert abs(float(prior.log_probs.exp().sum()) - 1.0) < 1e-4


@pytest.mark.parametrize("option", ["guidance_scale", "name_start_guidance"])
def test_factor_one_is_plain_greedy(tiny_components, option):
    model = make_model(tiny_components).eval()
    features = torch.randn(2, 10, 32)
    mask = torch.ones(2, 10, dtype=torch.long)
    plain = _texts(model, features, mask)
    setattr(model.config, option, 4.0)
    guided = model.generate(features, mask, max_new_tokens=6)
    assert len(guided) == 2
    setattr(model.config, option, 1.0)
    assert _texts(model, features, mask) == plain


def _decoded_rows(model, prompt, instructions, steps):
    generated = model.generate_from_prompts(prompt, instructions, max_new_tokens=steps)
    return [model.decoder_tokenizer.encode(g.raw_text, add_special_tokens=False) for g in generated]


@pytest.mark.parametrize("guidance_scale", [1.0, 3.0])
@pytest.mark.parametrize("drop_rows", [True, False])
def test_finished_rows_leave_batch_unchanged(tiny_components, monkeypatch, guidance_scale, drop_rows):
    import binbridge.model.binbridge as binbridge_module

    if not drop_rows:  # a KV cache that cannot drop rows keeps finished rows, writing eos
        monkeypatch.setattr(binbridge_module, "_can_drop_rows", lambda cache: False)
    torch.manual_seed(0)
    model = make_model(tiny_components, repetition_penalty=1000.0, guidance_scale=guidance_scale).eval()
    H = model.language_model.config.hidden_size
    prompt = torch.randn(3, 8, H) * 20  # [B, Q, H], far apart so that the rows write different tokens
    instructions = model.instruction_ids([None] * 3)
    before = _decoded_rows(model, prompt, instructions, 8)
    # Make a token that only row 0 writes the end-of-sequence token: row 0 then stops early
    # and leaves the batch, while rows 1 and 2 go on.
    step, stop = next((i, token) for i, token in enumerate(before[0])
                      if i > 0 and all(token not in row for row in before[1:]))
    model.decoder_tokenizer.eos_token = model.decoder_tokenizer.convert_ids_to_tokens(stop)
    assert model.decoder_tokenizer.eos_token_id == stop
    together = _decoded_rows(model, prompt, instructions, 8)
    alone = [_decoded_rows(model, prompt[i:i + 1], instructions[i:i + 1], 8)[0] for i in range(3)]
    assert together[0] == before[0][:step + 1], "row 0 stops at the new end-of-sequence token"
    assert together[1:] == before[1:]
    assert together == alone


def test_predictor_keeps_input_order(tiny_components, monkeypatch):
    import binbridge.inference.predictor as predictor_module
    from binbridge.inference.predictor import NamePredictor

    model = make_model(tiny_components, repetition_penalty=1000.0).eval()
    predictor = NamePredictor(model, batch_size=2, decode_batch_size=3)
    monkeypatch.setattr(predictor_module, "PROMPT_CHUNK_BATCHES", 2)  # chunks of 6 functions
    # Lengths and hints differ, so the encoder order, the decoder order and the input order all differ.
    assemblies = [("push rbp\n" * (i % 5 + 1)) + ("call <getenv>\n" if i % 3 == 0 else "")
                  + (f'lea rdi, [rip + "word{i}"]\n' if i % 4 == 1 else "") + "ret" for i in range(14)]
    together = [g.raw_text for g in predictor.predict(assemblies)]
    alone = [predictor.predict([text])[0].raw_text for text in assemblies]
    assert len(together) == 14
    assert together == alone
    assert predictor.predict([]) == []


def test_prompts_need_matching_instructions(tiny_components):
    model = make_model(tiny_components).eval()
    prompt = torch.zeros(2, 8, model.language_model.config.hidden_size)
    with pytest.raises(ValueError, match="2 prompts but 1 instructions"):
        model.generate_from_prompts(prompt, model.instruction_ids([None]))


def test_llama_cache_can_drop_rows(tiny_components):
    from binbridge.model.binbridge import _can_drop_rows, _output_cache

    model = make_model(tiny_components).eval()
    with torch.no_grad():
        out = model.language_model(input_ids=torch.tensor([[5, 6, 7]]), use_cache=True)
    assert _can_drop_rows(_output_cache(out)), "row compaction must stay on for the Llama decoder"
