"""Configuration dataclasses, one per model component, validated on creation.

Every rule violation raises ``ConfigError`` naming the component, the field,
the value and the rule, so a bad JSON config or CLI flag fails at load time
instead of deep inside ``forward``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from binbridge.errors import ConfigError, ModelLoadError

CONFIG_FILE_NAME = "binbridge_config.json"
CONFIG_FORMAT_VERSION = 1


def _require(component: str, name: str, value: object, ok: bool, rule: str) -> None:
    if not ok:
        raise ConfigError(component, name, value, rule)


def _positive_int(component: str, name: str, value: object) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    _require(component, name, value, ok, "must be a positive integer")


def _unit_interval(component: str, name: str, value: object) -> None:
    ok = isinstance(value, (int, float)) and 0.0 <= float(value) < 1.0
    _require(component, name, value, ok, "must be a number in [0, 1)")


@dataclass
class EncoderConfig:
    """Sliding-window assembly encoder.

    ``model_path`` is a Hugging Face folder or hub id. A relative path is
    resolved against the saved model folder, which is how the embedded encoder
    of the ``tiny`` preset travels with the model.
    """

    model_path: str = "encoder"
    window_size: int = 2048
    stride: int = 256
    max_seq_length: int = 2048
    # Functions longer than this many tokens are truncated; bounds time and memory.
    max_input_tokens: int = 16384
    freeze_encoder: bool = True
    # Windows per encoder forward pass; 0 runs all windows of a batch at once.
    window_batch_size: int = 0
    # "bfloat16" runs the encoder under autocast (about 1.6x faster on an AVX-512 CPU for the tiny encoder).
    compute_dtype: str = "float32"
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        name = "EncoderConfig"
        _require(name, "model_path", self.model_path, bool(self.model_path), "must name a folder or hub id")
        for key in ("window_size", "stride", "max_seq_length", "max_input_tokens"):
            _positive_int(name, key, getattr(self, key))
        _require(name, "stride", self.stride, self.stride <= self.window_size,
                 f"must not exceed window_size={self.window_size}, or tokens between windows are never encoded")
        _require(name, "window_size", self.window_size, self.window_size <= self.max_seq_length,
                 f"must not exceed max_seq_length={self.max_seq_length}")
        _require(name, "compute_dtype", self.compute_dtype, self.compute_dtype in ("float32", "bfloat16"),
                 "must be float32 or bfloat16")
        ok = isinstance(self.window_batch_size, int) and self.window_batch_size >= 0
        _require(name, "window_batch_size", self.window_batch_size, ok, "must be 0 (all at once) or a positive integer")


@dataclass
class QFormerConfig:
    """BLIP-2-style query transformer that compresses encoder features."""

    num_query_tokens: int = 64
    hidden_size: int = 768
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    cross_attention_freq: int = 2
    dropout: float = 0.1
    layer_norm_eps: float = 1e-6
    # Feature size of the encoder output; set from the encoder's config when the model is built.
    encoder_hidden_size: int = 768

    def __post_init__(self) -> None:
        name = "QFormerConfig"
        for key in ("num_query_tokens", "hidden_size", "num_hidden_layers", "num_attention_heads",
                    "intermediate_size", "cross_attention_freq", "encoder_hidden_size"):
            _positive_int(name, key, getattr(self, key))
        _require(name, "hidden_size", self.hidden_size, self.hidden_size % self.num_attention_heads == 0,
                 f"must be divisible by num_attention_heads={self.num_attention_heads}")
        _require(name, "cross_attention_freq", self.cross_attention_freq,
                 self.cross_attention_freq <= self.num_hidden_layers,
                 f"must not exceed num_hidden_layers={self.num_hidden_layers}, or no layer reads the encoder")
        _unit_interval(name, "dropout", self.dropout)

    def cross_attention_layers(self) -> list[int]:
        """Indices of the layers that carry cross-attention (0, freq, 2*freq, ...)."""
        return [i for i in range(self.num_hidden_layers) if i % self.cross_attention_freq == 0]


DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class DecoderConfig:
    """Llama-family causal decoder with LoRA adapters.

    ``train_base_weights`` is for decoders initialised from scratch (the
    ``tiny`` preset): LoRA adapters are still attached, but the base weights
    train too and the adapters are merged into them when the model is saved.
    """

    model_path: str = "decoder"
    lora_r: int = 64
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: tuple[str, ...] = DEFAULT_LORA_TARGETS
    train_base_weights: bool = False
    # 4-bit NF4 quantisation of the frozen base (QLoRA); needs CUDA and bitsandbytes.
    load_in_4bit: bool = False
    trust_remote_code: bool = False
    # "bfloat16": inference casts the decoder's weights to bfloat16 (about 2.7x faster prompt processing
    # than float32 on an AVX-512/AMX CPU for the tiny decoder). Training is unaffected.
    compute_dtype: str = "float32"

    def __post_init__(self) -> None:
        name = "DecoderConfig"
        _require(name, "compute_dtype", self.compute_dtype, self.compute_dtype in ("float32", "bfloat16"),
                 "must be 'float32' or 'bfloat16'")
        _require(name, "model_path", self.model_path, bool(self.model_path), "must name a folder or hub id")
        _positive_int(name, "lora_r", self.lora_r)
        _positive_int(name, "lora_alpha", self.lora_alpha)
        _unit_interval(name, "lora_dropout", self.lora_dropout)
        self.lora_target_modules = tuple(self.lora_target_modules)
        _require(name, "lora_target_modules", self.lora_target_modules, len(self.lora_target_modules) > 0,
                 "must list at least one module name, such as q_proj")
        _require(name, "load_in_4bit", self.load_in_4bit, not (self.load_in_4bit and self.train_base_weights),
                 "cannot be combined with train_base_weights, because 4-bit base weights are frozen")


@dataclass
class LossConfig:
    """Weights of the mixed loss: analysis_weight * CE(analysis) + name_weight * CE(name)."""

    analysis_weight: float = 0.3
    name_weight: float = 0.7

    def __post_init__(self) -> None:
        for key in ("analysis_weight", "name_weight"):
            value = getattr(self, key)
            ok = isinstance(value, (int, float)) and value >= 0
            _require("LossConfig", key, value, ok, "must be a non-negative number")
        _require("LossConfig", "name_weight", self.name_weight, self.name_weight > 0,
                 "must be positive, or the model never learns to write names")


@dataclass
class PromptConfig:
    """Text around the soft prompt. The markers are what the name parser looks for."""

    instruction: str = "Name this function.\n"
    analysis_marker: str = "Analysis:"
    name_marker: str = "Name:"
    max_analysis_tokens: int = 256
    max_name_tokens: int = 24
    # Write the function's import names and strings after the instruction (model/hints.py).
    # Off for models saved before hints existed.
    context_hints: bool = False
    max_hint_tokens: int = 64

    def __post_init__(self) -> None:
        _require("PromptConfig", "name_marker", self.name_marker, bool(self.name_marker.strip()),
                 "must be non-empty text")
        _positive_int("PromptConfig", "max_analysis_tokens", self.max_analysis_tokens)
        _positive_int("PromptConfig", "max_name_tokens", self.max_name_tokens)
        _positive_int("PromptConfig", "max_hint_tokens", self.max_hint_tokens)
        _require("PromptConfig", "max_hint_tokens", self.max_hint_tokens, self.max_hint_tokens <= 1024,
                 "must be at most 1024, because the hints share the decoder's context with the soft prompt")
        _require("PromptConfig", "context_hints", self.context_hints, isinstance(self.context_hints, bool),
                 "must be true or false")


# Upper limit of decoding factors. Values near float32's maximum (about 3.4e38) turn the scores
# into inf and nan, so the limit keeps well below it.
MAX_DECODING_FACTOR = 1000.0
DECODING_FACTOR_RULE = f"must be a finite number from 1.0 to {MAX_DECODING_FACTOR:g}"


def is_decoding_factor(value: Any) -> bool:
    """Return True for a number in [1.0, MAX_DECODING_FACTOR]. Booleans do not count as numbers."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and 1.0 <= value <= MAX_DECODING_FACTOR)


@dataclass
class BinbridgeConfig:
    """Whole-model configuration, saved as ``binbridge_config.json`` beside the weights."""

    preset: str = "custom"
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    qformer: QFormerConfig = field(default_factory=QFormerConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    # True when the decoder was trained to write an analysis before the name.
    use_cot: bool = False
    # Copy the encoder into saved model folders (the tiny preset's encoder is trained here).
    embed_encoder: bool = False
    # "batch": BatchNorm over functions between the Q-Former and the projection; "none": no layer.
    prompt_norm: str = "batch"
    # Fraction of training rows whose soft prompt is replaced by the learned null prompt.
    guidance_dropout: float = 0.1
    # Classifier-free guidance at decoding: 1.0 is plain greedy decoding, larger values weigh
    # the function's own evidence more against the names that fit any function.
    guidance_scale: float = 1.0
    # Greedy decoding multiplies the log-probability of tokens the row already wrote by this factor,
    # so values > 1 make repeats ("set_set_set") less likely, as in CTRL; 1.0 turns it off.
    repetition_penalty: float = 1.0
    # At a name's first token, scores become cond + (s - 1) * (cond - prior), where prior is the
    # decoder's first-token distribution for the null prompt without hints; 1.0 turns it off.
    # Unlike guidance_scale it costs one extra row per batch, not a second decoder pass.
    name_start_guidance: float = 1.0

    def __post_init__(self) -> None:
        _require("BinbridgeConfig", "prompt_norm", self.prompt_norm, self.prompt_norm in ("batch", "none"),
                 "must be batch or none")
        _unit_interval("BinbridgeConfig", "guidance_dropout", self.guidance_dropout)
        for key in ("repetition_penalty", "guidance_scale", "name_start_guidance"):
            value = getattr(self, key)
            _require("BinbridgeConfig", key, value, is_decoding_factor(value), DECODING_FACTOR_RULE)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["format_version"] = CONFIG_FORMAT_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "BinbridgeConfig":
        data = dict(data)
        # Configs saved before the prompt BatchNorm existed describe models without one.
        data.setdefault("prompt_norm", "none")
        version = data.pop("format_version", CONFIG_FORMAT_VERSION)
        if version != CONFIG_FORMAT_VERSION:
            raise ModelLoadError(source, f"config format_version {version} is not supported",
                                 f"this Binbridge reads version {CONFIG_FORMAT_VERSION}")
        parts = {"encoder": EncoderConfig, "qformer": QFormerConfig, "decoder": DecoderConfig,
                 "loss": LossConfig, "prompt": PromptConfig}
        kwargs: dict[str, Any] = {}
        try:
            for key, value in data.items():
                kwargs[key] = parts[key](**value) if key in parts else value
            return cls(**kwargs)
        except TypeError as error:
            raise ModelLoadError(source, f"invalid config: {error}", "re-save the model with this version") from error
        except ConfigError as error:
            raise ModelLoadError(source, f"invalid config: {error}", "fix that field or re-save the model") from error

    def save(self, folder: str | os.PathLike[str]) -> Path:
        path = Path(folder) / CONFIG_FILE_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> "BinbridgeConfig":
        path = Path(folder) / CONFIG_FILE_NAME
        if not path.is_file():
            raise ModelLoadError(folder, f"no {CONFIG_FILE_NAME} found",
                                 "pass a folder written by 'binbridge train' (best_model or last_model)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModelLoadError(path, f"invalid JSON: {error}", "re-save the model") from error
        if not isinstance(data, dict):
            raise ModelLoadError(path, "config is not a JSON object", "re-save the model")
        return cls.from_dict(data, source=str(path))
