"""Named model sizes.

``tiny`` is the embedded default model: every component is small enough to
train on two CPU cores, and the encoder, decoder and BPE tokenizer are trained
from scratch on the corpus. ``paper`` is the design's full size: a pretrained
CLAP-ASM-style encoder and a Llama 3.2 decoder loaded from local folders or
hub ids, a 768-wide Q-Former, and QLoRA (4-bit) on CUDA.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from binbridge.errors import ConfigError
from binbridge.model.config import (BinbridgeConfig, DecoderConfig, EncoderConfig, LossConfig, PromptConfig,
                                    QFormerConfig)

PRESET_NAMES = ("tiny", "paper")


@dataclass
class ScratchEncoderSpec:
    """Shape of a RoFormer encoder trained from scratch (tiny preset)."""

    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 512
    max_position_embeddings: int = 512


@dataclass
class ScratchDecoderSpec:
    """Shape of a Llama decoder trained from scratch (tiny preset)."""

    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 704
    max_position_embeddings: int = 1024


@dataclass
class Preset:
    """A model config plus, for components trained from scratch, their shapes."""

    config: BinbridgeConfig
    vocab_size: int = 8000
    encoder_spec: ScratchEncoderSpec | None = None
    decoder_spec: ScratchDecoderSpec | None = None
    encoder_pretrain_steps: int = 1500
    extra: dict = field(default_factory=dict)


def tiny_preset() -> Preset:
    # NOTE: trained for about 3,000 steps on 2 CPU cores, this preset's decoder still learns to
    # ignore the soft prompt and gives most functions one of a few generic names.
    encoder = EncoderConfig(model_path="encoder", window_size=256, stride=128, max_seq_length=512,
                            max_input_tokens=512, compute_dtype="bfloat16")
    qformer = QFormerConfig(num_query_tokens=64, hidden_size=256, num_hidden_layers=6, num_attention_heads=4,
                            intermediate_size=1024, cross_attention_freq=2, dropout=0.0, encoder_hidden_size=128)
    decoder = DecoderConfig(model_path="decoder", lora_r=16, lora_alpha=32, lora_dropout=0.0,
                            train_base_weights=True, compute_dtype="bfloat16")
    config = BinbridgeConfig(preset="tiny", encoder=encoder, qformer=qformer, decoder=decoder, loss=LossConfig(),
                             prompt=PromptConfig(max_analysis_tokens=192, max_name_tokens=16), embed_encoder=True)
    return Preset(config=config, encoder_spec=ScratchEncoderSpec(), decoder_spec=ScratchDecoderSpec())


def paper_preset(encoder_path: str | None, decoder_path: str | None, *, load_in_4bit: bool = False) -> Preset:
    if not encoder_path:
        raise ConfigError("paper preset", "encoder_path", encoder_path,
                          "must name a pretrained encoder folder or hub id (CLAP-ASM); pass --encoder_path")
    if not decoder_path:
        raise ConfigError("paper preset", "decoder_path", decoder_path,
                          "must name a Llama-family folder or hub id (Llama 3.2); pass --decoder_path")
    encoder = EncoderConfig(model_path=encoder_path, window_size=2048, stride=256, max_seq_length=2048,
                            max_input_tokens=16384)
    qformer = QFormerConfig(num_query_tokens=64, hidden_size=768, num_hidden_layers=6, num_attention_heads=12,
                            intermediate_size=3072, cross_attention_freq=2)
    decoder = DecoderConfig(model_path=decoder_path, lora_r=64, lora_alpha=16, lora_dropout=0.05,
                            load_in_4bit=load_in_4bit)
    config = BinbridgeConfig(preset="paper", encoder=encoder, qformer=qformer, decoder=decoder, loss=LossConfig(),
                             prompt=PromptConfig())
    return Preset(config=config)


def get_preset(name: str, *, encoder_path: str | None = None, decoder_path: str | None = None,
               load_in_4bit: bool = False) -> Preset:
    if name == "tiny":
        preset = tiny_preset()
        # A pretrained encoder or decoder given by the user replaces the scratch one.
        if encoder_path:
            preset.config.encoder.model_path = encoder_path
            preset.encoder_spec = None
        if decoder_path:
            preset.config.decoder.model_path = decoder_path
            preset.decoder_spec = None
        return preset
    if name == "paper":
        return paper_preset(encoder_path, decoder_path, load_in_4bit=load_in_4bit)
    raise ConfigError("train", "preset", name, f"must be one of {', '.join(PRESET_NAMES)}")
