"""Create randomly initialised encoder and decoder folders for the tiny preset."""

from __future__ import annotations

import logging
from pathlib import Path

from binbridge.model.presets import ScratchDecoderSpec, ScratchEncoderSpec

logger = logging.getLogger(__name__)


def create_scratch_encoder(spec: ScratchEncoderSpec, tokenizer, folder: Path, *, seed: int = 0):
    """Write a random RoFormer masked-LM (the CLAP-ASM stand-in) with ``tokenizer`` to ``folder``."""
    import torch
    from transformers import RoFormerConfig, RoFormerForMaskedLM

    torch.manual_seed(seed)
    config = RoFormerConfig(
        vocab_size=len(tokenizer),
        embedding_size=spec.hidden_size,
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        intermediate_size=spec.intermediate_size,
        max_position_embeddings=spec.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = RoFormerForMaskedLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model


def create_scratch_decoder(spec: ScratchDecoderSpec, tokenizer, folder: Path, *, seed: int = 0):
    """Write a random LlamaForCausalLM (the Llama 3.2 stand-in) with ``tokenizer`` to ``folder``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        intermediate_size=spec.intermediate_size,
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model
