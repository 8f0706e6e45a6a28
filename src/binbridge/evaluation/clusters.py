"""Synonym clusters for the SymLM-style metric, loaded from a JSON file.

The file is a JSON object that maps a word to a list of cluster ids, for example
``{"del": ["remove"], "remove": ["remove"], "delete": ["remove", 7]}``. Ids may be
strings or integers and are compared as strings. A predicted word counts as correct
when it shares at least one cluster id with any true word.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from binbridge.errors import InputError
from binbridge.evaluation.lemmatize import lemmatize_word

_FILE_FIX = 'write a JSON object that maps each word to a list of cluster ids, e.g. {"del": ["remove"]}'


@dataclass(frozen=True)
class WordClusters:
    """Cluster ids per lowercase word, and the file they came from (``None`` when built in code)."""

    clusters: Mapping[str, frozenset[str]] = field(default_factory=dict)
    source: str | None = None

    def ids_of(self, words: Iterable[str]) -> frozenset[str]:
        """Return the union of the cluster ids of ``words``. Words without clusters add no ids."""
        ids: set[str] = set()
        for word in words:
            ids.update(self.clusters.get(word, ()))
        return frozenset(ids)

    def lemmatized(self) -> WordClusters:
        """Return a copy keyed by ``lemmatize_word`` keys, merging the ids of words that share a key."""
        merged: dict[str, set[str]] = {}
        for word, ids in self.clusters.items():
            merged.setdefault(lemmatize_word(word), set()).update(ids)
        return WordClusters({word: frozenset(ids) for word, ids in merged.items()}, self.source)


def load_word_clusters(path: str | os.PathLike[str]) -> WordClusters:
    """Read a synonym cluster file (format in the module docstring).

    Words are lowercased, and words that become equal merge their ids.
    Raises ``InputError`` when the file is missing, unreadable, not valid JSON, or
    not an object of word -> list of string or integer ids.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise InputError(path, "word cluster file not found", "check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(path, f"failed to read word cluster file: {error}", "check the file") from None
    except json.JSONDecodeError as error:
        raise InputError(
            path, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}", _FILE_FIX
        ) from None

    if not isinstance(data, dict):
        raise InputError(path, f"expected a JSON object at the top level, found {type(data).__name__}", _FILE_FIX)

    clusters: dict[str, set[str]] = {}
    for word, ids in data.items():
        if not isinstance(ids, list):
            raise InputError(path, f"the value of {word!r} is {type(ids).__name__}, expected a list", _FILE_FIX)
        for cluster_id in ids:
            # bool is a subclass of int, but true/false are not meaningful ids.
            if isinstance(cluster_id, bool) or not isinstance(cluster_id, (str, int)):
                raise InputError(
                    path, f"cluster id {cluster_id!r} of {word!r} is not a string or an integer", _FILE_FIX
                )
        clusters.setdefault(word.lower(), set()).update(str(cluster_id) for cluster_id in ids)

    return WordClusters({word: frozenset(ids) for word, ids in clusters.items()}, os.fspath(path))
