"""Result types of the function-name metrics and their JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from binbridge.evaluation.config import EvaluationConfig

SYMLM = "symlm"
XFL = "xfl"
VARIANTS = (SYMLM, XFL)

VARIANT_TITLES = {SYMLM: "SymLM-style", XFL: "XFL-style"}

VARIANT_DESCRIPTIONS = {
    SYMLM: (
        "C++ names demangled, words split at underscores, non-letters and camelCase boundaries, "
        "lowercased, digits dropped; "
        "optional lemmatisation, synonym clusters and decoration stripping"
    ),
    XFL: (
        "compiler and library decorations stripped (C++ names demangled), lowercased, split at non-letters, "
        "words shorter than the minimum length dropped"
    ),
}

# Breakdown key of rows that have no project or no optimisation level.
MISSING_GROUP = "(none)"

# Shown in the report header, the JSON and the chart title, because readers tend to compare the variants.
VARIANTS_NOT_COMPARABLE = (
    "SymLM-style and XFL-style scores use different word splits, so compare each only with the same variant."
)


@dataclass(frozen=True)
class WordCounts:
    """Word-level true positives, false positives and false negatives."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    def __add__(self, other: WordCounts) -> WordCounts:
        return WordCounts(
            self.true_positives + other.true_positives,
            self.false_positives + other.false_positives,
            self.false_negatives + other.false_negatives,
        )


@dataclass(frozen=True)
class VariantScores:
    """Micro-averaged word scores and exact-match rate of one metric variant over a group of functions.

    A ratio whose denominator is 0 is reported as 0.0.
    """

    variant: str
    functions: int
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float
    exact_matches: int
    exact_match: float

    @classmethod
    def from_counts(cls, variant: str, counts: WordCounts, exact_matches: int, functions: int) -> VariantScores:
        """Compute precision, recall, F1 and exact-match rate from summed counts."""
        tp, fp, fn = counts.true_positives, counts.false_positives, counts.false_negatives
        precision = _ratio(tp, tp + fp)
        recall = _ratio(tp, tp + fn)
        f1 = _ratio(2 * precision * recall, precision + recall)
        exact_match = _ratio(exact_matches, functions)
        return cls(variant, functions, tp, fp, fn, precision, recall, f1, exact_matches, exact_match)

    @property
    def title(self) -> str:
        """Human-readable variant name, such as ``SymLM-style``."""
        return VARIANT_TITLES[self.variant]

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "title": self.title,
            "functions": self.functions,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "exact_matches": self.exact_matches,
            "exact_match": self.exact_match,
        }


@dataclass(frozen=True)
class GroupScores:
    """Scores of both variants and the prediction coverage over one group of functions."""

    functions: int
    predicted: int
    coverage: float
    symlm: VariantScores
    xfl: VariantScores

    def variant(self, name: str) -> VariantScores:
        """Return the scores of variant ``name`` (``"symlm"`` or ``"xfl"``)."""
        if name == SYMLM:
            return self.symlm
        if name == XFL:
            return self.xfl
        raise KeyError(f"unknown metric variant {name!r}, expected one of {', '.join(VARIANTS)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "functions": self.functions,
            "predicted": self.predicted,
            "coverage": self.coverage,
            SYMLM: self.symlm.to_dict(),
            XFL: self.xfl.to_dict(),
        }


@dataclass(frozen=True)
class BaselinePredictions:
    """Predicted names of one baseline, aligned with the evaluated rows."""

    name: str
    description: str
    predicted_names: list[str | None]


@dataclass(frozen=True)
class BaselineScores:
    """Overall scores of one baseline on the evaluated rows."""

    name: str
    description: str
    scores: GroupScores

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "scores": self.scores.to_dict()}


@dataclass(frozen=True)
class EvaluationReport:
    """Overall scores, breakdowns by project and optimisation level, and baseline scores.

    A breakdown is empty when no row has that field. Within a breakdown, rows without
    the field are grouped under ``MISSING_GROUP``.
    """

    config: EvaluationConfig
    overall: GroupScores
    by_project: dict[str, GroupScores] = field(default_factory=dict)
    by_opt_level: dict[str, GroupScores] = field(default_factory=dict)
    baselines: list[BaselineScores] = field(default_factory=list)
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "config": self.config.to_dict(),
            "variants": {
                name: {"title": VARIANT_TITLES[name], "description": VARIANT_DESCRIPTIONS[name]} for name in VARIANTS
            },
            "note": VARIANTS_NOT_COMPARABLE,
            "overall": self.overall.to_dict(),
            "by_project": {key: scores.to_dict() for key, scores in self.by_project.items()},
            "by_opt_level": {key: scores.to_dict() for key, scores in self.by_opt_level.items()},
            "baselines": [baseline.to_dict() for baseline in self.baselines],
        }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
