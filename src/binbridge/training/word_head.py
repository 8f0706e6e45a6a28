"""Auxiliary name-word objective that makes the soft prompt carry the function's name words.

A decoder trained from scratch learns the unconditional distribution of names
long before it learns to read a soft prompt, and then has little reason to
read it. On the tiny preset it ignored the prompt and gave most functions one
of a dozen names. BLIP-2 avoids this with a first stage that teaches the
Q-Former, against a frozen image encoder, to put what the text describes into
its queries, and only then connects the queries to the language model.

This objective does the same job with a cheaper target. Each name is split
into SymLM-style words. A linear head scores every word of a vocabulary from
each soft-prompt vector and keeps the maximum over the Q vectors, so that one
query can specialise in one word, as in BLIP-2's query-wise contrastive
similarity. It is trained with cross-entropy against the uniform distribution
over the name's words. The head exists only in training and is not saved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from binbridge.errors import ConfigError
from binbridge.evaluation.names import strip_decorations, symlm_words
from binbridge.model.loss import LossOutput


def name_words(name: str) -> list[str]:
    """Return the distinct SymLM-style words of ``name``, decorations removed, in first-seen order."""
    return list(dict.fromkeys(symlm_words(strip_decorations(name))))


@dataclass
class NameWordVocabulary:
    """The name words the head predicts: the most frequent words of the training names."""

    words: list[str]

    def __post_init__(self) -> None:
        self.index = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def from_names(cls, names: Sequence[str], *, max_words: int = 4096, min_count: int = 2) -> "NameWordVocabulary":
        if max_words < 1:
            raise ConfigError("name-word head", "max_words", max_words, "must be a positive integer")
        counts = Counter(word for name in names for word in name_words(name))
        frequent = [word for word, count in counts.most_common(max_words) if count >= min_count]
        return cls(words=frequent)

    def __len__(self) -> int:
        return len(self.words)

    def targets(self, names: Sequence[str]) -> torch.Tensor:
        """Return [N, V] target distributions: uniform over each name's in-vocabulary words, zeros if none."""
        target = torch.zeros(len(names), len(self.words))  # [N, V]
        for row, name in enumerate(names):
            known = [self.index[word] for word in name_words(name) if word in self.index]
            if known:
                target[row, known] = 1.0 / len(known)
        return target


class NameWordHead(nn.Module):
    """Scores name words from a soft prompt [B, Q, H] -> [B, V] (max over the Q vectors)."""

    def __init__(self, hidden_size: int, vocabulary_size: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden_size)
        self.scorer = nn.Linear(hidden_size, vocabulary_size)

    def forward(self, prompt: torch.Tensor) -> torch.Tensor:
        scores = self.scorer(self.norm(prompt))  # [B, Q, H] -> [B, Q, V]
        return scores.max(dim=1).values  # [B, Q, V] -> [B, V]


def name_word_loss(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Compute the cross-entropy of ``scores`` [B, V] against target distributions [B, V].

    Rows without a word are skipped.
    """
    has_word = targets.sum(dim=1) > 0  # [B]
    if not bool(has_word.any()):
        # Keep the zero a function of the scores. Under data-parallel training every rank must produce
        # a gradient for the head, because the other ranks wait for it in the all-reduce.
        return scores.float().sum() * 0.0
    log_probs = F.log_softmax(scores[has_word].float(), dim=-1)  # [B', V]
    return -(targets[has_word] * log_probs).sum(dim=1).mean()


@dataclass
class ObjectiveOutput:
    loss: torch.Tensor
    language: LossOutput
    word_loss: torch.Tensor


class TrainingObjective(nn.Module):
    """The model's mixed language loss plus ``word_weight`` times the name-word loss on its soft prompt."""

    def __init__(self, model: nn.Module, head: NameWordHead | None, word_weight: float) -> None:
        super().__init__()
        self.model = model
        self.head = head
        self.word_weight = word_weight

    def forward(self, features: torch.Tensor, feature_mask: torch.Tensor, input_ids: torch.Tensor,
                attention_mask: torch.Tensor, span_kinds: torch.Tensor,
                word_targets: torch.Tensor | None = None) -> ObjectiveOutput:
        prompt = self.model.soft_prompt(features, feature_mask)  # [B, Q, H]
        language = self.model.language_loss(prompt, input_ids, attention_mask, span_kinds)
        word_loss = prompt.new_zeros((), dtype=torch.float32)
        if self.head is not None and word_targets is not None:
            word_loss = name_word_loss(self.head(prompt), word_targets)
        return ObjectiveOutput(loss=language.loss + self.word_weight * word_loss, language=language,
                               word_loss=word_loss.detach())
