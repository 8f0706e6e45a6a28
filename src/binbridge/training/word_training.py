"""Train the name-word model (``model.word_model``) on a dataset CSV, in minutes on a CPU.

Steps:
1. Read the rows of one or more training CSVs. Split each name into its distinct SymLM-style
   words of two or more letters.
2. Where a name starts with the library prefix of its row's file name (``pcap`` for
   ``libpcap.pie``), replace that prefix by ``<prefix>`` (``target_words``).
3. Keep the ``vocabulary_size`` most common words, and each word's mean relative position.
4. Keep the ``max_features`` feature ids seen in the most functions, each in at least
   ``min_feature_count`` functions of at least ``min_feature_projects`` projects. A feature that
   only one project shows (its own constants and messages) cannot carry over to a project the
   model never saw. On the eval split, two projects scored better than one, three or four.
5. Train with Adam and cross-entropy against the uniform distribution over each name's words.
6. With eval data, keep the epoch whose names score the best SymLM-style F1 and choose the naming
   rule (``max_words``, ``relative_threshold``) from a small grid on the same data, unless the
   rule is given. A final model can then train on the training and eval rows together, with the
   epochs and rule chosen before.
7. Write ``word_model.json`` and ``word_model.safetensors`` into the output folder.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from binbridge.data.schema import FunctionRecord, read_dataset
from binbridge.errors import ConfigError, InputError
from binbridge.evaluation.metrics import name_f1
from binbridge.evaluation.names import strip_decorations, symlm_words
from binbridge.inference.word_names import WordNamer, library_prefix
from binbridge.model.word_features import LATEST_FEATURE_SET, function_feature_ids
from binbridge.model.word_model import MAX_DIM, PREFIX_WORD, NameWordModel, WordModelConfig, pack_rows
from binbridge.progress import progress_bar
from binbridge.training.word_head import name_words

logger = logging.getLogger(__name__)

_LETTER_RUN = re.compile(r"[A-Za-z]+")
# A project's most common first run of letters counts as its prefix when this share of its names start with it.
PROJECT_PREFIX_SHARE = 0.2

# Naming rules tried on the eval data: (max_words, relative_threshold).
RULE_GRID = ((1, 0.0), (2, 0.5), (2, 0.3), (3, 0.5), (3, 0.3), (3, 0.0), (4, 0.3))
# The naming rule without eval data, and the missing part of a partly given rule. The shipped model uses
# this rule, which the eval split chose.
DEFAULT_MAX_WORDS = 2
DEFAULT_RELATIVE_THRESHOLD = 0.3


@dataclass
class WordTrainingArguments:
    train_data: str | Sequence[str]
    output_dir: str
    eval_data: str | None = None
    epochs: int = 2
    batch_size: int = 64
    learning_rate: float = 3e-3
    dim: int = 64
    vocabulary_size: int = 4000
    max_features: int = 40000
    min_feature_count: int = 3
    min_feature_projects: int = 2
    prefix_share: float = PROJECT_PREFIX_SHARE
    feature_set: int = LATEST_FEATURE_SET
    max_words: int | None = None
    relative_threshold: float | None = None
    seed: int = 0
    show_progress: bool = False

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "dim", "vocabulary_size", "max_features", "min_feature_count",
                     "min_feature_projects"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError("train-words", name, value, "must be a positive integer")
        if self.dim > MAX_DIM:
            raise ConfigError("train-words", "dim", self.dim, f"must be at most {MAX_DIM}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError("train-words", "seed", self.seed, "must be from 0 to 2**32 - 1")
        if not 0.0 < self.learning_rate <= 1.0:
            raise ConfigError("train-words", "learning_rate", self.learning_rate, "must be in (0, 1]")
        if isinstance(self.prefix_share, bool) or not 0.0 < self.prefix_share <= 1.0:
            raise ConfigError("train-words", "prefix_share", self.prefix_share, "must be in (0, 1]")
        if isinstance(self.train_data, (str, os.PathLike)):
            self.train_data = [self.train_data]
        if not self.train_data:
            raise ConfigError("train-words", "train_data", self.train_data, "must name at least one dataset CSV")
        # The model config checks the rule and the feature set, with the same messages as on loading.
        try:
            WordModelConfig(max_words=self.rule[0], relative_threshold=self.rule[1], feature_set=self.feature_set)
        except ConfigError as error:
            raise ConfigError("train-words", error.field, error.value, error.rule) from error

    @property
    def rule(self) -> tuple[int, float]:
        """Naming rule used when eval data does not choose one: the given parts, else the defaults."""
        return (DEFAULT_MAX_WORDS if self.max_words is None else self.max_words,
                DEFAULT_RELATIVE_THRESHOLD if self.relative_threshold is None else self.relative_threshold)

    @property
    def rule_given(self) -> bool:
        """Whether ``max_words`` or ``relative_threshold`` fixes the rule, so eval data chooses only the epoch."""
        return self.max_words is not None or self.relative_threshold is not None


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


def target_words(names: Sequence[str], binaries: Sequence[str], projects: Sequence[str] | None = None,
                 share: float = PROJECT_PREFIX_SHARE) -> list[list[str]]:
    """Return each name's distinct words of two or more letters, a leading library prefix as ``<prefix>``.

    A name starts with a prefix when its first run of letters is the prefix (``cJSON_Parse``)
    or begins with it as a word (``xmlParseFile``). The prefix is the one ``library_prefix``
    reads from the row's ``binary`` (``pcap`` for ``libpcap.pie``), or else, with ``projects``,
    the first word that at least ``share`` of the project's names start with (``gcry`` in
    libgcrypt, ``ft`` in FreeType). Either way ``<prefix>`` means "the namespace word of this
    library", which inference takes from the file name.
    """
    firsts = [next(iter(_LETTER_RUN.findall(strip_decorations(name))), "").lower() for name in names]
    dominant: dict[str, str] = {}
    if projects is not None:
        counts: dict[str, Counter] = {}
        for project, first in zip(projects, firsts):
            counts.setdefault(project, Counter())[first] += 1
        for project, counter in counts.items():
            first, count = counter.most_common(1)[0]
            if first and count >= share * sum(counter.values()):
                dominant[project] = first
    return [_target(name, library_prefix(binary) or (dominant.get(projects[i]) if projects is not None else None))
            for i, (name, binary) in enumerate(zip(names, binaries))]


def _target(name: str, prefix: str | None) -> list[str]:
    words = [w for w in name_words(name) if len(w) >= 2]
    if not prefix:
        return words
    stripped = strip_decorations(name)
    chunk = _LETTER_RUN.search(stripped)
    if chunk is None:
        return words
    chunk_words = symlm_words(chunk.group(0))
    if chunk.group(0).lower() == prefix:
        covered = set(chunk_words)
    elif chunk_words and chunk_words[0] == prefix:
        covered = {prefix}
    else:
        return words
    return [PREFIX_WORD] + [w for w in words if w not in covered]


def word_positions(rows: Sequence[Sequence[str]], vocabulary: Sequence[str]) -> list[float]:
    """Return the mean relative position (0 first, 1 last) of each vocabulary word in the names that use it."""
    totals, counts = Counter(), Counter()
    for row in rows:
        for i, word in enumerate(row):
            totals[word] += i / (len(row) - 1) if len(row) > 1 else 0.5
            counts[word] += 1
    return [totals[w] / counts[w] if counts[w] else 0.5 for w in vocabulary]


def frequent_features(id_lists: Sequence[Sequence[int]], max_features: int, min_count: int,
                      projects: Sequence[str] | None = None, min_projects: int = 1) -> torch.Tensor:
    """Return the ids that occur in the most functions, at most ``max_features``.

    Each kept id occurs in at least ``min_count`` functions and, given each function's project
    in ``projects``, in functions of at least ``min_projects`` projects.
    """
    counts = Counter(i for ids in id_lists for i in set(ids))
    if projects is not None and min_projects > 1:
        seen_in: dict[int, set[str]] = {}
        for ids, project in zip(id_lists, projects):
            for i in set(ids):
                seen_in.setdefault(i, set()).add(project)
        counts = Counter({i: c for i, c in counts.items() if len(seen_in[i]) >= min_projects})
    kept = [i for i, c in counts.most_common(max_features) if c >= min_count]
    return torch.tensor(sorted(kept), dtype=torch.int64)


def train_words(args: WordTrainingArguments) -> WordTrainingResult:
    folder = Path(args.output_dir)
    created = not folder.exists()
    _check_output_folder(args.output_dir)
    try:
        return _train_words(args)
    except BaseException:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # a failed run leaves no empty folder of its own behind
        raise


def _train_words(args: WordTrainingArguments) -> WordTrainingResult:
    started = time.time()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    _check_distinct(args.train_data)
    train = [row for path in args.train_data for row in _read(path)]
    train_names = ", ".join(map(str, args.train_data))
    row_projects = [r.project for r in train]
    projects = sorted(set(row_projects))
    if len(projects) < args.min_feature_projects:
        project_list = ", ".join(repr(p) for p in projects[:5]) + (", ..." if len(projects) > 5 else "")
        raise InputError(train_names, f"rows of {len(projects)} project(s) ({project_list}), fewer than "
                         f"--min_feature_projects {args.min_feature_projects}",
                         "pass --min_feature_projects 1, or add CSVs of more projects")
    evaluation = _read(args.eval_data) if args.eval_data else []
    targets = target_words([r.function_name for r in train], [r.binary for r in train], row_projects,
                           args.prefix_share)
    vocabulary = [w for w, _ in Counter(w for row in targets for w in row).most_common(args.vocabulary_size)]
    index = {w: i for i, w in enumerate(vocabulary)}
    labels = [[index[w] for w in row if w in index] for row in targets]
    if not [w for w in vocabulary if w != PREFIX_WORD]:
        raise InputError(train_names, "no function name has a word of two or more letters besides a library "
                         "prefix", "pass a dataset whose function_name column holds real names")
    if evaluation and not any(len(w) >= 2 for r in evaluation for w in name_words(r.function_name)):
        raise InputError(args.eval_data, "no function name has a word to score against",
                         "pass an eval dataset whose function_name column holds real names, or leave out --eval_data")
    logger.info("%d training functions, %d name words", len(train), len(vocabulary))

    train_ids = [function_feature_ids(r.assembly, args.feature_set) for r in train]
    feature_ids = frequent_features(train_ids, args.max_features, args.min_feature_count, row_projects,
                                    args.min_feature_projects)
    if not len(feature_ids):
        raise InputError(train_names, f"no feature occurs in {args.min_feature_count} or more functions of "
                         f"{args.min_feature_projects} or more projects",
                         "lower --min_feature_count or --min_feature_projects, or pass more training rows")
    max_words, threshold = args.rule
    config = WordModelConfig(dim=args.dim, max_words=max_words, relative_threshold=threshold,
                             feature_set=args.feature_set)
    model = NameWordModel(config, feature_ids, vocabulary, word_positions(targets, vocabulary))
    logger.info("%d features with a row", len(feature_ids))
    bags = [model.rows(ids) for ids in train_ids]

    best = _Best()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    usable = [i for i, row in enumerate(labels) if row]
    for epoch in range(1, args.epochs + 1):
        loss = _train_epoch(model, optimizer, bags, labels, usable, args, epoch)
        rules = (args.rule,) if args.rule_given else RULE_GRID
        f1, rule = _evaluate(model, evaluation, rules) if evaluation else (None, None)
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


def _check_output_folder(path: str) -> None:
    """Fail before training when the model folder cannot be written."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(folder, "is a file, not a folder", "pass a model folder, or a new folder name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(folder, f"cannot create the folder ({error.strerror})",
                         "pass a folder in a writable place") from error
    if not os.access(folder, os.W_OK):
        raise InputError(folder, "is not writable", "pass a folder in a writable place")


def _check_distinct(paths: Sequence[str | os.PathLike[str]]) -> None:
    """Raise ``InputError`` for a training CSV named twice, because its rows would count twice."""
    seen: dict[str, str] = {}
    for path in paths:
        key = os.path.realpath(path)
        if key in seen:
            raise InputError(path, f"is the same file as {seen[key]}, given twice in --train_data",
                             "name each training CSV once")
        seen[key] = str(path)


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
        logits = model(*pack_rows([bags[i] for i in batch]))  # [B, V]
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


def _evaluate(model: NameWordModel, rows: Sequence[FunctionRecord],
              rules: Sequence[tuple[int, float]]) -> tuple[float, tuple[int, float]]:
    """Best SymLM-style F1 over ``rules`` on ``rows``, and the rule that gave it."""
    namer = WordNamer(model)
    probabilities = namer.probabilities([r.assembly for r in rows])  # [N, V]
    prefixes = [library_prefix(r.binary) for r in rows]
    truth = [r.function_name for r in rows]
    best_f1, best_rule = -1.0, rules[0]
    for max_words, threshold in rules:
        names = ["_".join(namer.choose(p, prefix, max_words=max_words, relative_threshold=threshold).words)
                 for p, prefix in zip(probabilities, prefixes)]
        f1 = name_f1(truth, names)
        if f1 > best_f1:
            best_f1, best_rule = f1, (max_words, threshold)
    model.train()
    return best_f1, best_rule
