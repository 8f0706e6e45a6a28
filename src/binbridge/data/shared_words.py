"""Training names cut down to the words that several projects share.

Cross-project naming is scored on name words (SymLM- and XFL-style F1). A word
that only one project uses (``sqlite3``, ``fts``, ``png``, ``gnutls``) cannot
be right on a project the model never saw, yet it fills much of what a decoder
learns from raw names. Rewriting ``sqlite3Fts5ExprPhraseSize`` to
``expr_phrase_size`` keeps what transfers: the words that at least
``min_projects`` training projects use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from binbridge.evaluation.names import strip_decorations, symlm_words


@dataclass(frozen=True)
class SharedWords:
    """Name words used by at least ``min_projects`` training projects."""

    words: frozenset[str]
    min_projects: int

    @classmethod
    def find(cls, named_rows: Iterable[tuple[str, str]], *, min_projects: int = 3) -> "SharedWords":
        """Collect the words of (project, function name) pairs that ``min_projects`` or more projects use."""
        projects_by_word: dict[str, set[str]] = defaultdict(set)
        for project, name in named_rows:
            for word in symlm_words(strip_decorations(name)):
                projects_by_word[word].add(project)
        shared = frozenset(word for word, projects in projects_by_word.items() if len(projects) >= min_projects)
        return cls(shared, min_projects)

    def rewrite(self, name: str) -> str:
        """Return the shared words of ``name`` joined by ``_``, or ``name`` itself when none is shared."""
        shared = [word for word in symlm_words(strip_decorations(name)) if len(word) > 1 and word in self.words]
        return "_".join(shared) if shared else name
