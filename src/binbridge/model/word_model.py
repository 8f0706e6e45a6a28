"""The name-word model: which name words a function's stripped-visible features predict.

The model is a fastText-style classifier. It reads a function as a bag of
feature ids (``model.word_features``) and averages their embeddings. One
linear layer then scores every word of a vocabulary of training-name words.
It is trained with cross-entropy against the uniform distribution over the
name's words.

One vocabulary entry, ``<prefix>``, stands for "this function carries its
library's own prefix" (``png_``, ``pcap_``, ``lzma_``). Training replaces each
project's most common name word by it; at inference it becomes the word the
caller gives for the binary (``inference.word_names``), or is skipped.

Only features seen in enough training functions get a row. A feature without a
row is left out of the average, so unseen strings and constants cost nothing.
The folder holds ``word_model.json`` (config, words) and
``word_model.safetensors`` (feature ids and weights).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from binbridge.errors import ConfigError, ModelLoadError
from binbridge.model.word_features import FEATURE_SETS
from binbridge.outputs import current_umask

WORD_MODEL_CONFIG = "word_model.json"
WORD_MODEL_WEIGHTS = "word_model.safetensors"
WORD_MODEL_FORMAT = 1
PREFIX_WORD = "<prefix>"
MAX_DIM = 4096
# A vocabulary word becomes part of a C identifier, so it may hold only these characters.
_WORD = re.compile(r"[a-z][a-z0-9]*")
_RETRAIN = "re-train with 'binbridge train-words'"


@dataclass
class WordModelConfig:
    """Size and naming rule of the name-word model."""

    dim: int = 64
    # Names use the top ``max_words`` words whose probability is at least
    # ``relative_threshold`` times the top word's.
    max_words: int = 2
    relative_threshold: float = 0.5
    # Feature set that the model reads (``word_features.FEATURE_SETS``). Folders written before the field
    # existed lack it and read set 1. ``binbridge train-words`` writes the latest set.
    feature_set: int = 1

    def __post_init__(self) -> None:
        for name in ("dim", "max_words"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError("word_model", name, value, "must be a positive integer")
        if self.dim > MAX_DIM:
            raise ConfigError("word_model", "dim", self.dim, f"must be at most {MAX_DIM}")
        if self.max_words > 8:
            raise ConfigError("word_model", "max_words", self.max_words, "must be at most 8")
        if not isinstance(self.feature_set, int) or isinstance(self.feature_set, bool) \
                or self.feature_set not in FEATURE_SETS:
            raise ConfigError("word_model", "feature_set", self.feature_set,
                              f"must be one of {', '.join(map(str, FEATURE_SETS))}")
        value = self.relative_threshold
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ConfigError("word_model", "relative_threshold", value, "must be a number in [0, 1]")

    @classmethod
    def from_dict(cls, data: object, path: Path) -> "WordModelConfig":
        if not isinstance(data, dict):
            raise ModelLoadError(path, "field 'config' is not an object", _RETRAIN)
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ModelLoadError(path, f"unknown config field(s) {', '.join(unknown)}",
                                 "re-train with 'binbridge train-words' of this version")
        try:
            return cls(**data)
        except ConfigError as error:
            raise ModelLoadError(path, str(error), _RETRAIN) from error


class NameWordModel(nn.Module):
    """Feature ids -> averaged embedding -> scores over the name-word vocabulary."""

    def __init__(self, config: WordModelConfig, feature_ids: torch.Tensor, words: list[str],
                 word_positions: list[float]) -> None:
        super().__init__()
        if len(words) != len(word_positions):
            raise ValueError(f"{len(words)} words but {len(word_positions)} word positions")
        self.config = config
        self.register_buffer("feature_ids", feature_ids.to(torch.int64).sort().values, persistent=False)  # [F]
        self.words = list(words)
        self.word_positions = list(word_positions)
        self.embedding = nn.EmbeddingBag(len(feature_ids), config.dim, mode="mean")
        self.output = nn.Linear(config.dim, len(words))

    def rows(self, ids: list[int]) -> torch.Tensor:
        """Map feature ids to embedding rows, dropping ids without a row."""
        if not ids or len(self.feature_ids) == 0:
            return torch.zeros(0, dtype=torch.long)
        query = torch.tensor(ids, dtype=torch.int64)  # [n]
        where = torch.searchsorted(self.feature_ids, query).clamp(max=len(self.feature_ids) - 1)  # [n]
        return where[self.feature_ids[where] == query]

    def bags(self, id_lists: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Concatenate the rows of several functions for ``nn.EmbeddingBag``: (rows [N], offsets [B])."""
        return pack_rows([self.rows(ids) for ids in id_lists])

    def forward(self, rows: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        pooled = self.embedding(rows, offsets)  # [B, D]; an empty bag gives zeros
        return self.output(pooled)  # [B, V]

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write ``word_model.json`` and ``word_model.safetensors`` into ``folder`` (fp16 weights)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {
            "feature_ids": self.feature_ids.clone(),
            "embedding": self.embedding.weight.detach().to(torch.float16).contiguous(),
            "output.weight": self.output.weight.detach().to(torch.float16).contiguous(),
            "output.bias": self.output.bias.detach().float().contiguous(),
        }
        document = {"format": WORD_MODEL_FORMAT, "config": asdict(self.config), "words": self.words,
                    "word_positions": [round(p, 4) for p in self.word_positions]}
        # Both files go to temp files first, so a failure leaves the folder's old pair whole.
        weights = _temporary(folder, WORD_MODEL_WEIGHTS)
        config = _temporary(folder, WORD_MODEL_CONFIG)
        try:
            save_file(tensors, weights)
            Path(config).write_text(json.dumps(document, ensure_ascii=False) + "\n", encoding="utf-8")
            for path in (weights, config):
                os.chmod(path, 0o666 & ~current_umask())
            os.replace(weights, folder / WORD_MODEL_WEIGHTS)
            os.replace(config, folder / WORD_MODEL_CONFIG)
        finally:
            for path in (weights, config):
                if os.path.exists(path):
                    os.unlink(path)


def _temporary(folder: Path, name: str) -> str:
    descriptor, path = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(descriptor)
    return path


def pack_rows(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate per-function embedding rows for ``nn.EmbeddingBag``: (rows [N], offsets [B])."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)  # [B]
    offsets = torch.cumsum(lengths, 0) - lengths  # [B]
    flat = torch.cat(rows) if rows else torch.zeros(0, dtype=torch.long)  # B x [n_b] -> [N]
    return flat, offsets


def has_word_model(folder: str | os.PathLike[str]) -> bool:
    return (Path(folder) / WORD_MODEL_CONFIG).is_file()


def load_word_model(folder: str | os.PathLike[str]) -> NameWordModel:
    """Load the name-word model of a model folder; raises ``ModelLoadError`` naming the bad file."""
    folder = Path(folder)
    config_path, weights_path = folder / WORD_MODEL_CONFIG, folder / WORD_MODEL_WEIGHTS
    document = _read_document(config_path)
    config = WordModelConfig.from_dict(document.get("config"), config_path)
    words, positions = document.get("words"), document.get("word_positions")
    if not isinstance(words, list) or not words or not all(
            isinstance(w, str) and (w == PREFIX_WORD or _WORD.fullmatch(w)) for w in words):
        raise ModelLoadError(config_path, "field 'words' must be a non-empty list of lowercase words "
                             "([a-z][a-z0-9]*) or <prefix>", _RETRAIN)
    if not isinstance(positions, list) or len(positions) != len(words) or not all(
            isinstance(p, (int, float)) and not isinstance(p, bool) for p in positions):
        raise ModelLoadError(config_path, f"field 'word_positions' must hold one number per word ({len(words)})",
                             _RETRAIN)

    state = _read_weights(weights_path)
    feature_ids = state.get("feature_ids")
    if feature_ids is None or feature_ids.dim() != 1 or feature_ids.is_floating_point() or not len(feature_ids):
        raise ModelLoadError(weights_path, "tensor 'feature_ids' is missing, empty or not 1-D integers", _RETRAIN)
    if len(feature_ids) > 1 and not bool((feature_ids[1:] > feature_ids[:-1]).all()):
        raise ModelLoadError(weights_path, "tensor 'feature_ids' is not strictly increasing", _RETRAIN)
    expected = {"embedding": (len(feature_ids), config.dim), "output.weight": (len(words), config.dim),
                "output.bias": (len(words),)}
    for key, shape in expected.items():
        tensor = state.get(key)
        if tensor is None or tuple(tensor.shape) != shape:
            found = "missing" if tensor is None else f"shape {tuple(tensor.shape)}"
            raise ModelLoadError(weights_path, f"tensor '{key}' is {found}, the config needs {shape}", _RETRAIN)
        if not tensor.is_floating_point() or not bool(torch.isfinite(tensor).all()):
            raise ModelLoadError(weights_path, f"tensor '{key}' contains values that are not finite (NaN or infinity)", _RETRAIN)

    model = NameWordModel(config, feature_ids, words, [float(p) for p in positions])
    with torch.no_grad():
        model.embedding.weight.copy_(state["embedding"].float())
        model.output.weight.copy_(state["output.weight"].float())
        model.output.bias.copy_(state["output.bias"].float())
    return model.eval()


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ModelLoadError(path, "weights file not found", _RETRAIN)
    try:
        return load_file(str(path))
    except Exception as error:  # safetensors raises its own error types for corrupt headers
        raise ModelLoadError(path, f"cannot read safetensors weights: {error}", _RETRAIN) from error


def _read_document(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ModelLoadError(path, "file not found", _RETRAIN) from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(path, f"not a JSON file ({error})", _RETRAIN) from error
    if not isinstance(document, dict):
        raise ModelLoadError(path, "is not a JSON object", _RETRAIN)
    if document.get("format") != WORD_MODEL_FORMAT:
        raise ModelLoadError(path, f"format {document.get('format')!r} is not {WORD_MODEL_FORMAT}",
                             "re-train with 'binbridge train-words' of this version")
    return document
