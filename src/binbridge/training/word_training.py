"""Train the name-word model (``model.word_model``) on a dataset CSV, in minutes on a CPU.

Steps:
1. Read the rows; split each name into its distinct SymLM-style words of two or more letters.
2. Find each project's prefix, its most common name word when at least ``prefix_share`` of its
   names use it, and replace that word by ``<prefix>`` in the project's targets.
3. Keep the ``vocabulary_size`` most common words, and each word's mean relative position.
4. Keep the ``max_features`` feature ids seen in the most functions (at least ``min_feature_count``).
5. Train with Adam and cross-entropy against the uniform distribution over each name's words.
6. With eval data, keep the epoch whose names score the best SymLM-style F1 and choose the naming
   rule (``max_words``, ``relative_threshold``) from a small grid on the same data.
7. Write ``word_model.json`` and ``word_model.safetensors`` into the output folder.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from binbridge.data.schema import FunctionRecord, read_dataset
from binbridge.errors import ConfigError, InputError
from binbridge.evaluation.metrics import name_f1
from binbridge.inference.word_names import WordNamer, library_prefix
from binbridge.model.word_features import function_feature_ids
from binbridge.model.word_model import PREFIX_WORD, NameWordModel, WordModelConfig
from binbridge.progress import progress_bar
from binbridge.training.word_head import name_words

logger = logging.getLogger(__name__)

# Naming rules tried on the eval data: (max_words, relative_threshold).
RULE_GRID = ((1, 0.0), (2, 0.5), (2, 0.3), (3, 0.5), (3, 0.3), (3, 0.0), (4, 0.3))


@dataclass
class WordTrainingArguments:
    train_data: str
    output_dir: str
    eval_data: str | None = None
    epochs: int = 2
    batch_size: int = 64
    learning_rate: float = 3e-3
    dim: int = 64
    vocabulary_size: int = 4000
    max_features: int = 40000
    min_feature_count: int = 3
    prefix_share: float = 0.2
    seed: int = 0
    show_progress: bool = False

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "dim", "vocabulary_size", "max_features", "min_feature_count"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError("train-words", name, value, "must be a positive integer")
        if not 0.0 < self.learning_rate <= 1.0:
            raise ConfigError("train-words", "learning_rate", self.learning_rate, "must be in (0, 1]")
        if not 0.0 < self.prefix_share <= 1.0:
            raise ConfigError("train-words", "prefix_share", self.prefix_share,
                              "must be in (0, 1]; 1 keeps only prefixes that every name of a project uses")


@dataclass
class WordTrainingResult:
    output_dir: str
    rows: int
    words: int
    features: int
    best_epoch: int
    eval_f1: float | None
    max_words: int
    relative_threshold: float
    seconds: float


def target_words(names: Sequence[str], projects: Sequence[str], prefix_share: float) -> list[list[str]]:
    """Each name's distinct words of two or more letters, its project's prefix replaced by ``<prefix>``."""
    words = [[w for w in name_words(name) if len(w) >= 2] for name in names]
    prefixes = project_prefixes(words, projects, prefix_share)
    return [[PREFIX_WORD if w == prefixes.get(project) else w for w in row] for row, project in zip(words, projects)]


def project_prefixes(words: Sequence[Sequence[str]], projects: Sequence[str], share: float) -> dict[str, str]:
    """Project -> its most common name word, where at least ``share`` of its names use that word."""
    counts: dict[str, Counter] = {}
    sizes = Counter(projects)
    for row, project in zip(words, projects):
        counts.setdefault(project, Counter()).update(row)
    prefixes = {}
    for project, counter in counts.items():
        if counter:
            word, count = counter.most_common(1)[0]
            if count >= share * sizes[project]:
                prefixes[project] = word
    return prefixes


def word_positions(rows: Sequence[Sequence[str]], vocabulary: Sequence[str]) -> list[float]:
    """Mean relative position (0 first, 1 last) of each vocabulary word in the names that use it."""
    totals, counts = Counter(), Counter()
    for row in rows:
        for i, word in enumerate(row):
            totals[word] += i / (len(row) - 1) if len(row) > 1 else 0.5
            counts[word] += 1
    return [totals[w] / counts[w] if counts[w] else 0.5 for w in vocabulary]


def frequent_features(id_lists: Sequence[Sequence[int]], max_features: int, min_count: int) -> torch.Tensor:
    """The ids that occur in the most functions, at most ``max_features``, each in at least ``min_count``."""
    counts = Counter(i for ids in id_lists for i in set(ids))
    kept = [i for i, c in counts.most_common(max_features) if c >= min_count]
    return torch.tensor(sorted(kept), dtype=torch.int64)


def train_words(args: WordTrainingArguments) -> WordTrainingResult:
    started = time.time()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    train = _read(args.train_data)
    evaluation = _read(args.eval_data) if args.eval_data else []
    targets = target_words([r.function_name for r in train], [r.project for r in train], args.prefix_share)
    vocabulary = [w for w, _ in Counter(w for row in targets for w in row).most_common(args.vocabulary_size)]
    index = {w: i for i, w in enumerate(vocabulary)}
    labels = [[index[w] for w in row if w in index] for row in targets]
    logger.info("%d training functions, %d name words", len(train), len(vocabulary))

    train_ids = [function_feature_ids(r.assembly) for r in train]
    feature_ids = frequent_features(train_ids, args.max_features, args.min_feature_count)
    model = NameWordModel(WordModelConfig(dim=args.dim), feature_ids, vocabulary, word_positions(targets, vocabulary))
    logger.info("%d features with a row", len(feature_ids))
    bags = [model.rows(ids) for ids in train_ids]

    best = _Best()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    usable = [i for i, row in enumerate(labels) if row]
    for epoch in range(1, args.epochs + 1):
        loss = _train_epoch(model, optimizer, bags, labels, usable, args, epoch)
        f1, rule = _evaluate(model, evaluation) if evaluation else (None, None)
        logger.info("epoch %d: loss %.3f%s", epoch, loss, f", eval SymLM-style F1 {f1:.4f}" if f1 is not None else "")
        if f1 is None or f1 > best.f1:
            best = _Best(f1 if f1 is not None else -1.0, epoch, copy.deepcopy(model.state_dict()), rule)
    model.load_state_dict(best.state)
    if best.rule is not None:
        model.config.max_words, model.config.relative_threshold = best.rule
    model.save(args.output_dir)
    return WordTrainingResult(args.output_dir, len(train), len(vocabulary), len(feature_ids), best.epoch,
                              best.f1 if evaluation else None, model.config.max_words,
                              model.config.relative_threshold, time.time() - started)


@dataclass
class _Best:
    f1: float = -1.0
    epoch: int = 0
    state: dict | None = None
    rule: tuple[int, float] | None = None


def _read(path: str) -> list[FunctionRecord]:
    rows = read_dataset(path)
    if not rows:
        raise InputError(path, "has no rows", "pass a dataset CSV with at least one function")
    return rows


def _train_epoch(model, optimizer, bags, labels, usable, args, epoch) -> float:
    model.train()
    order = usable[:]
    random.shuffle(order)
    total, steps = 0.0, 0
    bar = progress_bar(enabled=args.show_progress, total=len(order), desc=f"epoch {epoch}", unit="fn")
    for start in range(0, len(order), args.batch_size):
        batch = order[start:start + args.batch_size]
        lengths = torch.tensor([len(bags[i]) for i in batch])  # [B]
        offsets = torch.cumsum(lengths, 0) - lengths  # [B]
        logits = model(torch.cat([bags[i] for i in batch]), offsets)  # [B, V]
        target = torch.zeros_like(logits)  # [B, V]
        for row, i in enumerate(batch):
            target[row, labels[i]] = 1.0 / len(labels[i])
        loss = -(target * F.log_softmax(logits, dim=-1)).sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, steps = total + loss.item(), steps + 1
        bar.update(len(batch))
    bar.close()
    return total / max(steps, 1)


def _evaluate(model: NameWordModel, rows: Sequence[FunctionRecord]) -> tuple[float, tuple[int, float]]:
    """Best SymLM-style F1 over ``RULE_GRID`` on ``rows``, and the rule that gave it."""
    namer = WordNamer(model)
    probabilities = namer.probabilities([r.assembly for r in rows])  # [N, V]
    prefixes = [library_prefix(r.binary) for r in rows]
    truth = [r.function_name for r in rows]
    best_f1, best_rule = -1.0, RULE_GRID[0]
    for max_words, threshold in RULE_GRID:
        names = ["_".join(namer.choose(p, prefix, max_words=max_words, relative_threshold=threshold).words)
                 for p, prefix in zip(probabilities, prefixes)]
        f1 = name_f1(truth, names)
        if f1 > best_f1:
            best_f1, best_rule = f1, (max_words, threshold)
    model.train()
    return best_f1, best_rule
