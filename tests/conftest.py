"""Shared fixtures: tiny random Hugging Face models and a C compiler check."""

from __future__ import annotations

import shutil

import pytest

from binbridge.model.presets import ScratchDecoderSpec, ScratchEncoderSpec


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from binbridge.training.tokenizer import train_bpe_tokenizer

    texts = ["push rbp\nmov rbp, rsp\ncall <malloc>\nlea rdi, [rip + \"usage: %s\"]\njne .L3\nret",
             "Name: parse_config", "Analysis: reads a file and returns its size",
             "xor eax, eax\ncall FUNC\nmov qword ptr [rip + DATA], rax\nret"] * 20
    return train_bpe_tokenizer(texts, 400)


@pytest.fixture(scope="session")
def tiny_components(tmp_path_factory, tiny_tokenizer):
    """Random RoFormer (CLAP-ASM stand-in) and Llama (Llama 3.2 stand-in) folders."""
    from binbridge.model.scratch import create_scratch_decoder, create_scratch_encoder

    root = tmp_path_factory.mktemp("components")
    encoder_spec = ScratchEncoderSpec(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=64, max_position_embeddings=128)
    decoder_spec = ScratchDecoderSpec(hidden_size=48, num_hidden_layers=2, num_attention_heads=2,
                                      num_key_value_heads=1, intermediate_size=96, max_position_embeddings=256)
    create_scratch_encoder(encoder_spec, tiny_tokenizer, root / "encoder")
    create_scratch_decoder(decoder_spec, tiny_tokenizer, root / "decoder")
    return root


@pytest.fixture(scope="session")
def gcc():
    path = shutil.which("gcc")
    if path is None:
        pytest.skip("gcc is not installed")
    return path
