"""Word-level precision, recall, F1, exact match and coverage of predicted function names.

Both variants compare each function's true and predicted names as sets of words
(repeated words count once). Per function, a true positive is a predicted word that
matches a true word, a false positive is a predicted word that matches none, and a
false negative is a true word that no predicted word matches. Counts are summed over
all functions before precision = TP / (TP + FP), recall = TP / (TP + FN) and F1 are
computed (micro-averaging). A function without a prediction adds only false negatives.

A prediction is an exact match under a variant when the function has a prediction,
the true name has at least one word, and the two ordered word lists of that variant
are equal. Lemmatisation applies to these lists, synonym clusters do not.

Mangled C++ names (``_Z…``) are demangled to the function's own name first, in both
variants: ``_ZN4gold6Symbol9set_valueEm`` is compared as ``set_value``.

Coverage is the fraction of functions whose predicted name is not empty or blank.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from binbridge.data.demangle import base_function_name
from binbridge.errors import InputError
from binbridge.evaluation.clusters import WordClusters
from binbridge.evaluation.config import EvaluationConfig
from binbridge.evaluation.names import strip_decorations, symlm_words, xfl_words
from binbridge.evaluation.results import (
    MISSING_GROUP,
    SYMLM,
    XFL,
    BaselinePredictions,
    BaselineScores,
    EvaluationReport,
    GroupScores,
    VariantScores,
    WordCounts,
)


@dataclass(frozen=True)
class PredictionRow:
    """One function: its true name, the predicted name (``None`` or blank when none) and optional groups."""

    true_name: str
    predicted_name: str | None
    project: str | None = None
    opt_level: str | None = None


@dataclass(frozen=True)
class _NameScore:
    counts: WordCounts
    exact: bool


@dataclass(frozen=True)
class _RowScore:
    predicted: bool
    symlm: WordCounts
    xfl: WordCounts
    symlm_exact: bool
    xfl_exact: bool


def has_prediction(predicted_name: str | None) -> bool:
    """Return whether ``predicted_name`` counts as a prediction (not ``None``, empty or blank)."""
    return predicted_name is not None and predicted_name.strip() != ""


def count_matches(
    true_words: Iterable[str], predicted_words: Iterable[str], clusters: WordClusters | None = None
) -> WordCounts:
    """Count TP, FP and FN of one function's word sets. With ``clusters``, words that share a cluster id also match."""
    true_set = set(true_words)
    predicted_set = set(predicted_words)
    if clusters is None:
        hits = len(true_set & predicted_set)
        return WordCounts(hits, len(predicted_set) - hits, len(true_set) - hits)

    true_ids = clusters.ids_of(true_set)
    predicted_ids = clusters.ids_of(predicted_set)
    correct = [word for word in predicted_set if word in true_set or clusters.ids_of([word]) & true_ids]
    found = [word for word in true_set if word in predicted_set or clusters.ids_of([word]) & predicted_ids]
    return WordCounts(len(correct), len(predicted_set) - len(correct), len(true_set) - len(found))


class _Scorer:
    """Scores single functions under both variants with one configuration."""

    def __init__(self, config: EvaluationConfig) -> None:
        self._lemmatize = config.lemmatize
        self._strip = config.symlm_strip_decorations
        self._min_length = config.xfl_min_token_length
        clusters = config.word_clusters
        if clusters is not None and config.lemmatize:
            clusters = clusters.lemmatized()
        self._clusters = clusters

    def symlm(self, true_name: str, predicted_name: str | None) -> _NameScore:
        predicted = has_prediction(predicted_name)
        true_words = self._symlm_words(true_name)
        predicted_words = self._symlm_words(predicted_name) if predicted else []
        counts = count_matches(true_words, predicted_words, self._clusters)
        return _NameScore(counts, predicted and bool(true_words) and true_words == predicted_words)

    def _symlm_words(self, name: str) -> list[str]:
        # A mangled C++ name is an encoding, not words: both variants compare the demangled function name.
        name = strip_decorations(name) if self._strip else base_function_name(name)
        return symlm_words(name, lemmatize=self._lemmatize)

    def xfl(self, true_name: str, predicted_name: str | None) -> _NameScore:
        predicted = has_prediction(predicted_name)
        true_words = xfl_words(true_name, min_length=self._min_length)
        predicted_words = xfl_words(predicted_name, min_length=self._min_length) if predicted else []
        counts = count_matches(true_words, predicted_words)
        return _NameScore(counts, predicted and bool(true_words) and true_words == predicted_words)

    def row(self, true_name: str, predicted_name: str | None) -> _RowScore:
        symlm = self.symlm(true_name, predicted_name)
        xfl = self.xfl(true_name, predicted_name)
        return _RowScore(has_prediction(predicted_name), symlm.counts, xfl.counts, symlm.exact, xfl.exact)


def evaluate(
    rows: Iterable[PredictionRow],
    *,
    config: EvaluationConfig | None = None,
    baselines: Sequence[BaselinePredictions] = (),
    source: str | None = None,
) -> EvaluationReport:
    """Score predicted names against true names under both metric variants.

    ``baselines`` contains other predictions for the same rows, in the same order, and
    each is scored over all rows. ``source`` names the predictions file in the report.
    Raises ``InputError`` when there are no rows, a row has an empty true name, or a
    baseline has a different number of predictions than there are rows.
    """
    config = EvaluationConfig() if config is None else config
    row_list = list(rows)
    _check_rows(row_list)
    scorer = _Scorer(config)

    scores = [scorer.row(row.true_name, row.predicted_name) for row in row_list]
    baseline_scores = [_score_baseline(scorer, row_list, baseline) for baseline in baselines]

    return EvaluationReport(
        config=config,
        overall=_aggregate(scores),
        by_project=_breakdown(row_list, scores, lambda row: row.project),
        by_opt_level=_breakdown(row_list, scores, lambda row: row.opt_level),
        baselines=baseline_scores,
        source=source,
    )


def name_f1(true_names: Sequence[str], predicted_names: Sequence[str | None]) -> float:
    """Return the SymLM-style micro F1 of ``predicted_names`` against ``true_names``, with default settings.

    Meant for picking the best checkpoint, so it skips the XFL-style variant and
    breakdowns. Returns 0.0 for empty lists. Raises ``InputError`` when the lists have
    different lengths.
    """
    if len(true_names) != len(predicted_names):
        raise InputError(
            None,
            f"name_f1 got {len(true_names)} true names but {len(predicted_names)} predicted names",
            "pass one predicted name per true name, in the same order",
        )
    scorer = _Scorer(EvaluationConfig())
    total = WordCounts()
    for true_name, predicted_name in zip(true_names, predicted_names):
        total = total + scorer.symlm(true_name, predicted_name).counts
    return VariantScores.from_counts(SYMLM, total, 0, len(true_names)).f1


def _check_rows(rows: list[PredictionRow]) -> None:
    if not rows:
        raise InputError(None, "no rows to evaluate", "pass at least one function with its true name")
    for index, row in enumerate(rows):
        if not isinstance(row, PredictionRow):
            raise InputError(
                None, f"row {index} is a {type(row).__name__}, not a PredictionRow", "build rows with PredictionRow"
            )
        if not isinstance(row.true_name, str) or not row.true_name.strip():
            raise InputError(None, f"row {index} has an empty true name", "drop the row or fill in its true name")
        for field in ("predicted_name", "project", "opt_level"):
            value = getattr(row, field)
            if value is not None and not isinstance(value, str):
                raise InputError(
                    None, f"row {index} has {field}={value!r}, expected a string or None", "convert the value to str"
                )


def _aggregate(scores: Sequence[_RowScore]) -> GroupScores:
    functions = len(scores)
    predicted = sum(score.predicted for score in scores)

    symlm_total = WordCounts()
    xfl_total = WordCounts()
    for score in scores:
        symlm_total = symlm_total + score.symlm
        xfl_total = xfl_total + score.xfl

    return GroupScores(
        functions=functions,
        predicted=predicted,
        coverage=predicted / functions if functions else 0.0,
        symlm=VariantScores.from_counts(SYMLM, symlm_total, sum(s.symlm_exact for s in scores), functions),
        xfl=VariantScores.from_counts(XFL, xfl_total, sum(s.xfl_exact for s in scores), functions),
    )


def _breakdown(
    rows: Sequence[PredictionRow], scores: Sequence[_RowScore], key: Callable[[PredictionRow], str | None]
) -> dict[str, GroupScores]:
    """Group scores by ``key``, sorted by group name. The result is empty when no row has a value."""
    values = [key(row) for row in rows]
    if all(value is None or not value.strip() for value in values):
        return {}

    groups: dict[str, list[_RowScore]] = {}
    for value, score in zip(values, scores):
        group = value.strip() if value is not None and value.strip() else MISSING_GROUP
        groups.setdefault(group, []).append(score)
    return {group: _aggregate(groups[group]) for group in sorted(groups)}


def _score_baseline(scorer: _Scorer, rows: Sequence[PredictionRow], baseline: BaselinePredictions) -> BaselineScores:
    if len(baseline.predicted_names) != len(rows):
        raise InputError(
            None,
            f"baseline {baseline.name!r} has {len(baseline.predicted_names)} predictions for {len(rows)} rows",
            "pass one baseline prediction per evaluated row, in the same order",
        )
    scores = [scorer.row(row.true_name, name) for row, name in zip(rows, baseline.predicted_names)]
    return BaselineScores(baseline.name, baseline.description, _aggregate(scores))
