"""Training arguments, validated on creation; the CLI flags map one to one onto these fields."""

from __future__ import annotations

from dataclasses import dataclass

from binbridge.errors import ConfigError
from binbridge.model.config import DECODING_FACTOR_RULE, is_decoding_factor
from binbridge.model.presets import PRESET_NAMES

PRECISIONS = ("bf16", "fp32")


@dataclass
class TrainingArguments:
    train_data: str
    eval_data: str
    output_dir: str
    epochs: int = 10
    batch_size: int = 4
    learning_rate: float = 2e-4
    use_cot: bool = False
    preset: str = "tiny"
    max_steps: int = 0  # 0: no limit beyond epochs
    gradient_accumulation_steps: int = 4
    seed: int = 42
    encoder_path: str | None = None
    decoder_path: str | None = None
    load_in_4bit: bool = False
    trust_remote_code: bool = False
    encoder_pretrain_steps: int | None = None  # None: the preset's default
    vocab_size: int | None = None  # None: the preset's default
    window_size: int | None = None  # None: the preset's default (tokens)
    stride: int | None = None  # None: the preset's default (tokens)
    max_input_tokens: int | None = None  # None: the preset's default (tokens kept per function)
    max_train_samples: int = 0  # 0: all rows; else a seeded random subset
    init_bridge: str | None = None  # saved model whose Q-Former/projection weights start training
    guidance_scale: float | None = None  # None: keep the config default (1.0, no guidance)
    repetition_penalty: float | None = None  # None: keep the config default (1.0, no penalty)
    name_start_guidance: float | None = None  # None: keep the config default (1.0, off)
    keep_project_prefixes: bool = False  # False: learn names without their project's dominant prefix (png_)
    no_context_hints: bool = False  # True: import names and strings are not written as decoder text
    shared_name_words: int = 0  # N > 0: training names keep only the words that N or more projects use
    project_balance: float = 1.0  # alpha: rows drawn with probability ~ project_size ** (alpha - 1); 1 keeps the mix
    word_loss_weight: float = 1.0  # weight of the auxiliary name-word loss on the soft prompt; 0 turns it off
    name_word_vocabulary: int = 4096  # most frequent training name words the auxiliary head predicts
    eval_steps: int = 0  # 0: evaluate after each epoch only; N: also every N optimizer steps
    eval_max_samples: int = 512
    eval_batch_size: int = 32
    warmup_ratio: float = 0.05
    weight_decay: float = 0.01
    precision: str = "bf16"
    cache_dir: str | None = None  # None: OUTPUT_DIR/cache
    save_dtype: str = "fp32"  # bf16 halves the size of saved models
    show_progress: bool = True

    def __post_init__(self) -> None:
        name = "train"
        positive_ints = ("epochs", "batch_size", "gradient_accumulation_steps", "eval_max_samples", "eval_batch_size")
        for key in positive_ints:
            value = getattr(self, key)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(name, key, value, "must be a positive integer")
        if not (isinstance(self.word_loss_weight, (int, float)) and self.word_loss_weight >= 0):
            raise ConfigError(name, "word_loss_weight", self.word_loss_weight, "must be a number >= 0")
        if not isinstance(self.name_word_vocabulary, int) or self.name_word_vocabulary <= 0:
            raise ConfigError(name, "name_word_vocabulary", self.name_word_vocabulary, "must be a positive integer")
        for key in ("guidance_scale", "repetition_penalty", "name_start_guidance"):
            value = getattr(self, key)
            if value is not None and not is_decoding_factor(value):
                raise ConfigError(name, key, value, DECODING_FACTOR_RULE)
        if not 0 <= self.seed < 2**32:
            raise ConfigError(name, "seed", self.seed, "must be in [0, 2**32)")
        if not isinstance(self.eval_steps, int) or self.eval_steps < 0:
            raise ConfigError(name, "eval_steps", self.eval_steps, "must be 0 (each epoch only) or a positive integer")
        if not isinstance(self.shared_name_words, int) or self.shared_name_words < 0:
            raise ConfigError(name, "shared_name_words", self.shared_name_words,
                              "must be 0 (keep whole names) or a positive number of projects")
        if isinstance(self.project_balance, bool) or not (
            isinstance(self.project_balance, (int, float)) and 0 <= self.project_balance <= 1
        ):
            raise ConfigError(name, "project_balance", self.project_balance,
                              "must be a number from 0 (every project equally often) to 1 (the corpus mix)")
        if self.load_in_4bit and self.preset != "paper":
            raise ConfigError(name, "load_in_4bit", self.load_in_4bit,
                              "applies only to --preset paper, because the tiny decoder trains its base weights, "
                              "which a 4-bit model cannot; drop --load_in_4bit")
        if self.max_steps < 0:
            raise ConfigError(name, "max_steps", self.max_steps, "must be 0 (no limit) or a positive integer")
        if not (0 < self.learning_rate < 1):
            raise ConfigError(name, "learning_rate", self.learning_rate, "must be in (0, 1), for example 2e-4")
        if not (0 <= self.warmup_ratio < 1):
            raise ConfigError(name, "warmup_ratio", self.warmup_ratio, "must be in [0, 1)")
        if self.preset not in PRESET_NAMES:
            raise ConfigError(name, "preset", self.preset, f"must be one of {', '.join(PRESET_NAMES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(name, "precision", self.precision, f"must be one of {', '.join(PRECISIONS)}")
        if self.save_dtype not in PRECISIONS:
            raise ConfigError(name, "save_dtype", self.save_dtype, f"must be one of {', '.join(PRECISIONS)}")
        if self.encoder_pretrain_steps is not None and self.encoder_pretrain_steps < 0:
            raise ConfigError(name, "encoder_pretrain_steps", self.encoder_pretrain_steps, "must be 0 or more")
        if self.vocab_size is not None and self.vocab_size < 300:
            raise ConfigError(name, "vocab_size", self.vocab_size,
                              "must be at least 300 (256 byte symbols plus special tokens)")
