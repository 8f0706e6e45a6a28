"""Project namespace prefixes (``png_``, ``gcry_``, ``SSL_``) in training names.

Libraries put a namespace prefix on most of their functions. A function's code
does not show which library it came from, so a model trained on the prefixed
names learns to put some library's prefix on every name. In a project it never
saw, that prefix is always wrong (``gcry_pkey_set`` for a function of ``ls``).
Training can therefore learn the names without their project's dominant
prefix. The ground truth used for evaluation is unchanged.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

# Leading underscores, one word, then the underscore that ends the prefix: "png_", "_gcry_", "SSL_".
_PREFIX = re.compile(r"^_*[A-Za-z][A-Za-z0-9]*_")


def leading_prefix(name: str) -> str | None:
    """Return the namespace-like prefix of ``name``, lowercase and without leading underscores, or None.

    ``png_get_IHDR``, ``_png_get`` and ``PNG_get`` all have the prefix ``png_``, because projects
    mark their internal functions with extra leading underscores (``_gnutls_``, ``__gmpn_``).
    """
    match = _PREFIX.match(name)
    if match is None or match.end() >= len(name):
        return None
    return match.group(0).lstrip("_").lower()


@dataclass
class ProjectPrefixes:
    """The dominant prefix of each project, found from the training names."""

    prefixes: dict[str, str]

    @classmethod
    def find(cls, rows: Iterable[tuple[str, str]], *, min_share: float = 0.25,
             min_functions: int = 20) -> "ProjectPrefixes":
        """Find prefixes from (project, function name) pairs.

        A project's most common prefix counts when at least ``min_share`` of its
        names (and ``min_functions`` of them) start with it.
        """
        per_project: dict[str, Counter] = defaultdict(Counter)
        totals: Counter = Counter()
        for project, name in rows:
            totals[project] += 1
            prefix = leading_prefix(name)
            if prefix:
                per_project[project][prefix] += 1
        found = {}
        for project, counts in per_project.items():
            prefix, count = counts.most_common(1)[0]
            if count >= min_functions and count >= min_share * totals[project]:
                found[project] = prefix
        return cls(prefixes=found)

    def strip(self, project: str, name: str) -> str:
        """Return ``name`` without its project's prefix, or unchanged when it does not start with it."""
        prefix = self.prefixes.get(project)
        if prefix and leading_prefix(name) == prefix:
            return name[_PREFIX.match(name).end():]
        return name
