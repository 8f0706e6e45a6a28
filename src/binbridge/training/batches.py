"""Training examples and batches built from cached encoder features."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from binbridge.data.schema import FunctionRecord
from binbridge.model.config import PromptConfig
from binbridge.model.prompting import encode_target
from binbridge.training.feature_cache import FeatureCache
from binbridge.training.word_head import NameWordVocabulary


@dataclass
class Batch:
    features: torch.Tensor  # [B, L, D]
    feature_mask: torch.Tensor  # [B, L]
    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T]
    span_kinds: torch.Tensor  # [B, T]
    word_targets: torch.Tensor | None = None  # [B, V] name-word distributions, when a word head trains


class CachedFunctionDataset(torch.utils.data.Dataset):
    """Pairs each row's cached features with its tokenised target text."""

    def __init__(self, records: list[FunctionRecord], cache: FeatureCache, tokenizer, prompt: PromptConfig,
                 use_cot: bool, words: NameWordVocabulary | None = None) -> None:
        if len(records) != len(cache):
            raise ValueError(f"feature cache has {len(cache)} rows but the dataset has {len(records)}")
        self.cache = cache
        self.targets = [encode_target(tokenizer, prompt, r.function_name, r.cot if use_cot else None, r.assembly)
                        for r in records]
        self.words = words
        self.names = [r.function_name for r in records]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        word_target = self.words.targets([self.names[index]])[0] if self.words is not None else None  # [V]
        return index, self.cache.get(index), self.targets[index], word_target


def collate(items, pad_token_id: int) -> Batch:
    B = len(items)
    L = max(features.shape[0] for _, features, _, _ in items)
    D = items[0][1].shape[1]
    T = max(len(target.input_ids) for _, _, target, _ in items)

    features = torch.zeros(B, L, D, dtype=torch.bfloat16)
    feature_mask = torch.zeros(B, L, dtype=torch.long)
    input_ids = torch.full((B, T), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros(B, T, dtype=torch.long)
    span_kinds = torch.zeros(B, T, dtype=torch.long)
    for row, (_, row_features, target, _) in enumerate(items):
        length = row_features.shape[0]
        features[row, :length] = row_features
        feature_mask[row, :length] = 1
        n = len(target.input_ids)
        input_ids[row, :n] = torch.tensor(target.input_ids)
        attention_mask[row, :n] = 1
        span_kinds[row, :n] = torch.tensor(target.span_kinds)
    word_targets = None
    if items[0][3] is not None:
        word_targets = torch.stack([word_target for _, _, _, word_target in items])  # B x [V] -> [B, V]
    return Batch(features, feature_mask, input_ids, attention_mask, span_kinds, word_targets)
