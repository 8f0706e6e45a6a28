"""Settings of the function-name metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from binbridge.errors import ConfigError
from binbridge.evaluation.clusters import WordClusters


@dataclass(frozen=True)
class EvaluationConfig:
    """Options of ``evaluate``; the defaults give the plain metrics without lemmas or synonyms.

    ``lemmatize``, ``word_clusters`` and ``symlm_strip_decorations`` change only the
    SymLM-style variant, and ``xfl_min_token_length`` changes only the XFL-style
    variant. ``symlm_strip_decorations`` applies the XFL-style ``strip_decorations``
    before the SymLM-style split, for true names that still carry suffixes such as
    ``.isra.0``. Raises ``ConfigError`` naming the field, the value and the rule when a
    value is invalid.
    """

    lemmatize: bool = False
    word_clusters: WordClusters | None = None
    symlm_strip_decorations: bool = False
    xfl_min_token_length: int = 2

    def __post_init__(self) -> None:
        for name in ("lemmatize", "symlm_strip_decorations"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigError("EvaluationConfig", name, value, "must be true or false")
        if self.word_clusters is not None and not isinstance(self.word_clusters, WordClusters):
            raise ConfigError(
                "EvaluationConfig",
                "word_clusters",
                self.word_clusters,
                "must be None or a WordClusters from load_word_clusters()",
            )
        length = self.xfl_min_token_length
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ConfigError("EvaluationConfig", "xfl_min_token_length", length, "must be an integer >= 1")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready values; clusters appear as their file path."""
        clusters = self.word_clusters
        return {
            "lemmatize": self.lemmatize,
            "word_clusters": None if clusters is None else (clusters.source or "(built in code)"),
            "symlm_strip_decorations": self.symlm_strip_decorations,
            "xfl_min_token_length": self.xfl_min_token_length,
        }
