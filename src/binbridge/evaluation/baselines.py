"""Baselines that a learned namer should beat, as pure functions of names and feature arrays.

The caller supplies training names and, for retrieval, pooled feature vectors, and
passes the returned names to ``evaluate`` as ``BaselinePredictions``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from binbridge.errors import InputError
from binbridge.evaluation.names import symlm_words

# Maximum number of float64 entries in one block of the test x train similarity matrix (128 MB).
_MAX_BLOCK_ENTRIES = 16_000_000


@dataclass(frozen=True)
class MostFrequentWordsBaseline:
    """The constant name built from the training set's most frequent words.

    ``words`` are ordered by training frequency, ``name`` joins them with ``_``, and
    ``train_f1`` is the SymLM-style micro F1 of predicting ``name`` for every training
    function.
    """

    words: tuple[str, ...]
    name: str
    train_f1: float


@dataclass(frozen=True)
class NearestNeighbourPredictions:
    """Per test function: the predicted name, the index of the nearest training function and the cosine similarity."""

    predicted_names: list[str]
    neighbour_indices: np.ndarray
    similarities: np.ndarray


def most_frequent_words_baseline(train_names: Sequence[str], *, max_words: int = 3) -> MostFrequentWordsBaseline:
    """Choose the constant name that scores best on the training names.

    Words are the SymLM-style words without lemmatisation, ranked by the number of
    training names that contain them (ties alphabetically). Of the top 1 to
    ``max_words`` words, the prefix with the highest SymLM-style micro F1 on the
    training names wins, and ties go to fewer words. Raises ``InputError`` when
    ``max_words`` is below 1 or the training names contain no words.
    """
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
        raise InputError(None, f"max_words={max_words!r} is invalid", "pass an integer >= 1")

    word_sets = [set(symlm_words(name)) for name in train_names]
    document_frequency: Counter[str] = Counter()
    for words in word_sets:
        document_frequency.update(words)
    if not document_frequency:
        raise InputError(None, "the training names contain no words", "pass the true names of the training functions")

    ranked = sorted(document_frequency, key=lambda word: (-document_frequency[word], word))
    total_true_words = sum(len(words) for words in word_sets)
    functions = len(word_sets)

    # Predicting the top k words for every function gives TP = the summed document
    # frequency of those words, FP = k * functions - TP and FN = total_true_words - TP,
    # so F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (k * functions + total_true_words).
    # Fractions keep the comparison exact, so equal F1 values tie and fewer words win.
    best_k, best_f1 = 1, Fraction(-1)
    true_positives = 0
    for k, word in enumerate(ranked[:max_words], start=1):
        true_positives += document_frequency[word]
        f1 = Fraction(2 * true_positives, k * functions + total_true_words)
        if f1 > best_f1:
            best_k, best_f1 = k, f1

    words = tuple(ranked[:best_k])
    return MostFrequentWordsBaseline(words=words, name="_".join(words), train_f1=float(best_f1))


def nearest_neighbour_baseline(
    train_features: np.ndarray, train_names: Sequence[str], test_features: np.ndarray
) -> NearestNeighbourPredictions:
    """Predict for each test row the name of the training row with the highest cosine similarity.

    ``train_features`` is N x D and ``test_features`` is M x D, one pooled feature
    vector per function, and ``train_names`` has N names. A zero vector has similarity
    0 to everything. Ties go to the lowest training index. Raises ``InputError`` when
    the shapes disagree, N is 0, or a feature is NaN or infinite.
    """
    train = _as_matrix(train_features, "train_features")
    test = _as_matrix(test_features, "test_features")
    if train.shape[0] == 0:
        raise InputError(None, "train_features has no rows", "pass at least one training function")
    if train.shape[0] != len(train_names):
        raise InputError(
            None,
            f"train_features has {train.shape[0]} rows but train_names has {len(train_names)} names",
            "pass one name per training feature row, in the same order",
        )
    if train.shape[1] != test.shape[1]:
        raise InputError(
            None,
            f"train_features has {train.shape[1]} columns but test_features has {test.shape[1]}",
            "pool both sets with the same encoder",
        )

    train_unit = _unit_rows(train)
    test_unit = _unit_rows(test)

    indices = np.zeros(test.shape[0], dtype=np.int64)
    similarities = np.zeros(test.shape[0], dtype=np.float64)
    block = max(1, _MAX_BLOCK_ENTRIES // train.shape[0])
    for start in range(0, test.shape[0], block):
        stop = min(start + block, test.shape[0])
        scores = test_unit[start:stop] @ train_unit.T
        best = np.argmax(scores, axis=1)
        indices[start:stop] = best
        similarities[start:stop] = scores[np.arange(stop - start), best]

    names = [train_names[index] for index in indices]
    return NearestNeighbourPredictions(predicted_names=names, neighbour_indices=indices, similarities=similarities)


def _as_matrix(features: np.ndarray, label: str) -> np.ndarray:
    try:
        matrix = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(None, f"{label} is not a numeric array: {error}", "pass a numpy array of floats") from None
    if matrix.ndim != 2:
        raise InputError(None, f"{label} has shape {matrix.shape}, expected a 2-D array", "pass one row per function")
    if not np.all(np.isfinite(matrix)):
        raise InputError(None, f"{label} contains NaN or infinite values", "recompute the pooled features")
    return matrix


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    # Dividing a zero row by 1 keeps it zero, so its similarity to every row is 0.
    return matrix / np.where(norms > 0, norms, 1.0)
