"""Names from the name-word model: its most probable words, in their usual order.

The model (``model.word_model``) scores name words from features that survive
stripping. A name takes the top word and up to ``max_words - 1`` more whose
probability is at least ``relative_threshold`` times the top word's. Where the
top words include ``<prefix>``, the library's prefix takes its place
(``pcap`` for ``libpcap.so.0.8``); without a known prefix that entry is skipped.
A name is never the prefix alone: the best other word joins it.
A stripped shared library still exports its API by name, and those names show
how the library writes its prefix (``XML_`` in libexpat, ``cJSON_`` in
libcjson); ``exported_prefix`` reads it from them, and the file name is the fallback.
The words are then written in the order they usually take in training names,
prefix first: ``pcap_open_live``, not ``live_open_pcap``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import torch

from binbridge.binary import LazyReadOnlyStrings
from binbridge.model.binbridge import GeneratedName
from binbridge.model.word_features import function_feature_ids
from binbridge.model.word_model import PREFIX_WORD, NameWordModel, has_word_model, load_word_model

SOURCE_WORDS = "words"
BATCH_ROWS = 256

_LIBRARY_STEM = re.compile(r"lib([A-Za-z]{2,})")
# The namespace part of an exported name, tried in order. First the run before the first underscore
# ("cJSON" in cJSON_Parse, "sqlite3" in sqlite3_open). Then a lower-case run before a capital ("xml" in
# xmlParseFile, "sqlite3" in sqlite3VdbeExec). Last a capitalised word before the next capital ("Fc"),
# with one more capital where two follow ("WebP" in WebPDecode).
_NAMESPACE = re.compile(r"([A-Za-z][A-Za-z0-9]+)_|([a-z][a-z0-9]+)[A-Z]|([A-Z][a-z][a-z0-9]*(?:[A-Z](?=[A-Z]))?)[A-Z]")
# The share of exported names that must start with the same namespace for it to count as the prefix.
# zlib's most common start, inflate, covers 19% of libz.so.1's exports, while libexpat's XML covers 96%.
EXPORTED_PREFIX_SHARE = 0.5
# With fewer names a shared start is chance: a single export such as evthread_use_pthreads is no namespace.
MIN_EXPORTED_NAMES = 3
# An identifier in a string: a word with underscore parts (lzma_code, XML_DTD) or a camelCase one (xmlStrdup).
_IDENTIFIER = re.compile(r"(?<![A-Za-z0-9_])(?:[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+|[a-z][a-z0-9]+[A-Z][A-Za-z0-9]*)")
# C++ type names as RTTI spells them: N5boost6detail..., St9money_get..., Sa... (std::allocator).
_MANGLED = re.compile(r"_Z|(?:N|St|S[abdios])\d")
# A printf conversion ("%lu_item" names no namespace "lu"), or the escape "%%" before a name ("%%zorp_open").
_FORMAT = re.compile(r"%%|%[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|q|j|z|Z|t)?[diouxXeEfFgGaAcspnm]")
# Strings name other things too (libpcap's link types, JUNIPER_MLPPP), so their namespace needs a lower share
# than exports. Both values were chosen on 447 Debian shared libraries, the held-out projects excluded: with them
# the strings' namespace matched the exports' most often (benchmarks/prefix_benchmark.py, docs/BENCHMARKS.md).
STRING_PREFIX_SHARE = 0.2
MIN_STRING_IDENTIFIERS = 5
# The bytes of strings read for the prefix, in file order. 4 MiB holds tens of thousands of messages, an estimate
# of what a namespace needs to show. Searching all 50 MB of one test library's strings took 15 s.
# NOTE: a library whose strings follow more than 4 MiB of other strings (link order) shows no namespace here.
STRING_PREFIX_BYTES = 4 << 20
# A namespace from strings must not be one of the 100 most common training words that usually stand inside names.
# On the shared libraries, 100 kept as many prefixes right as none did (benchmarks/prefix_benchmark.py), and 500 fewer.
GENERIC_WORD_COUNT = 100
NAMESPACE_POSITION = 0.1


def library_prefix(path: str | os.PathLike[str] | None) -> str | None:
    """Guess a library's name prefix from its file name or SONAME, or None for other files.

    ``libpcap.so.0.8`` -> ``pcap``, ``libpng16.so.16`` -> ``png``, ``libjpeg.a:jcapi.o`` -> ``jpeg``;
    ``ls`` and ``libz.so.1`` (one letter) -> None. Only names that start with ``lib`` count:
    programs rarely prefix their functions with the program's name.
    """
    if not path:
        return None
    name = os.path.basename(os.fspath(path).split(".a:", 1)[0])
    if name.lower().startswith("library"):
        return None
    match = _LIBRARY_STEM.match(name)
    return match.group(1).lower() if match else None


def exported_prefix(names: Iterable[str], share: float = EXPORTED_PREFIX_SHARE) -> str | None:
    """Return the namespace that at least ``share`` of the exported function ``names`` start with, or None.

    The prefix keeps the library's own spelling, its most common one: ``XML`` for libexpat
    (``XML_Parse``, ``XML_SetUserData``), ``cJSON`` for libcjson, ``xml`` for libxml2
    (``xmlParseFile``), ``Fc`` for fontconfig (``FcPatternCreate``). A name that starts with an
    underscore (a C++ mangled name, or an internal one such as ``__gmpz_add``) has no
    namespace but counts in the total. So a C++ library gives None, and so does a library such
    as zlib, whose exports share no namespace.
    """
    names = [name for name in names if name]
    return _shared_namespace(names, share, MIN_EXPORTED_NAMES)


def keeps_names(names: Iterable[str]) -> bool:
    """Return whether a binary keeps enough function names for its exports to show a namespace (or its absence)."""
    return sum(1 for name in names if name) >= MIN_EXPORTED_NAMES


def prefix_strings(path: str | os.PathLike[str], names: Iterable[str]) -> Iterable[str]:
    """Return what ``NamePredictor.prefix_for`` needs of a binary's strings, given the names the binary keeps.

    A binary that keeps enough names needs none. For the others the first ``STRING_PREFIX_BYTES``
    of the read-only strings are read when first iterated, so ``--prefix none`` reads nothing.
    """
    return () if keeps_names(names) else LazyReadOnlyStrings(path, STRING_PREFIX_BYTES)


def string_prefix(strings: Iterable[str], share: float = STRING_PREFIX_SHARE,
                  minimum: int = MIN_STRING_IDENTIFIERS, generic_words: Collection[str] = ()) -> str | None:
    """Return the namespace of the identifiers that a library's strings mention, or None.

    A stripped library without exports (a static library linked into a program) still keeps
    its messages and tables, and the identifiers in them often carry the library's namespace:
    ``lzma_str_to_filters`` in liblzma's messages, ``XML_DTD`` and ``sizeof(XML_Char)`` in
    libexpat's feature list. Each distinct identifier counts once, and the namespace must start
    at least ``minimum`` of them and ``share`` of those that have one.
    C++ type names (``N5boost6detail…``) are left out, and so are namespaces among
    ``generic_words`` (``get`` from ``get_width: invalid argument``; ``WordNamer.generic_words``).
    """
    text = _FORMAT.sub(" ", "\0".join(strings))  # one pass over all strings, without printf conversions
    identifiers = {token for token in _IDENTIFIER.findall(text) if not _MANGLED.match(token)}
    named = [token for token in identifiers if _NAMESPACE.match(token)]
    return _shared_namespace(named, share, minimum, frozenset(generic_words))


def _shared_namespace(names: list[str], share: float, minimum: int,
                      excluded: frozenset[str] = frozenset()) -> str | None:
    """Return the most common namespace of ``names``, if it starts enough of them, in its usual spelling.

    The spelling is the most common one among names that are not constants in capitals
    (``zorp`` from ``zorp_open`` beats ``ZORP`` from ``ZORP_DEBUG`` and ``ZORP_HOME``). Ties go
    to the alphabetically first namespace, so the result does not depend on the order of ``names``.
    Namespaces in ``excluded`` (lower case) never win, but their names count in the total.
    """
    spellings: Counter[str] = Counter()
    in_constants: Counter[str] = Counter()
    for name in names:
        match = None if name.startswith("_") else _NAMESPACE.match(name)
        if match:
            spelling = match.group(1) or match.group(2) or match.group(3)
            spellings[spelling] += 1
            in_constants[spelling] += name.upper() == name
    by_key: Counter[str] = Counter()
    for spelling, count in spellings.items():
        if spelling.lower() not in excluded:
            by_key[spelling.lower()] += count
    if not by_key:
        return None
    key, count = min(by_key.items(), key=lambda item: (-item[1], item[0]))
    if count < minimum or count < share * len(names):
        return None
    candidates = [s for s in spellings if s.lower() == key]
    return max(candidates, key=lambda s: (spellings[s] - in_constants[s], spellings[s], s))


def is_cpp_library(names: Iterable[str]) -> bool:
    """Return whether most of a library's kept function names are mangled C++ names (``_Z...``)."""
    names = [name for name in names if name]
    return bool(names) and sum(name.startswith("_Z") for name in names) >= EXPORTED_PREFIX_SHARE * len(names)


@dataclass(frozen=True)
class WordChoice:
    """The words of one name, before they are joined, with the probability of the first."""

    words: tuple[str, ...]
    confidence: float


class WordNamer:
    """Names functions with a ``NameWordModel``."""

    def __init__(self, model: NameWordModel) -> None:
        self.model = model.eval()
        self.positions = dict(zip(model.words, model.word_positions))

    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str]) -> "WordNamer | None":
        """Load the folder's name-word model, or return None when it has none."""
        return cls(load_word_model(folder)) if has_word_model(folder) else None

    @torch.no_grad()
    def generic_words(self, count: int = GENERIC_WORD_COUNT, max_position: float = NAMESPACE_POSITION) -> frozenset[str]:
        """Return the ``count`` most common training name words that usually stand inside names, not first.

        ``get`` (mean position 0.48 of the name) is one. Namespaces such as ``gcry`` and ``ossl``
        (positions 0.00 and 0.02) are not: the name-word model keeps each word's mean position.
        """
        common = zip(self.model.words[:count + 1], self.model.word_positions[:count + 1])
        return frozenset(word for word, position in common if word != PREFIX_WORD and position > max_position)

    def probabilities(self, assemblies: Sequence[str]) -> torch.Tensor:
        """Return [N, V] word probabilities, one row per assembly text."""
        rows = []
        for start in range(0, len(assemblies), BATCH_ROWS):
            ids = [function_feature_ids(text, self.model.config.feature_set)
                   for text in assemblies[start:start + BATCH_ROWS]]
            flat, offsets = self.model.bags(ids)  # [n], [B]
            rows.append(torch.softmax(self.model(flat, offsets), dim=-1))  # [B, V]
        if not rows:
            return torch.zeros(0, len(self.model.words))
        return torch.cat(rows)  # [N, V]

    def choose(self, probabilities: torch.Tensor, prefix: str | None, *, max_words: int | None = None,
               relative_threshold: float | None = None) -> WordChoice:
        """Pick the words of one name from its [V] probabilities (see the module docstring)."""
        config = self.model.config
        max_words = config.max_words if max_words is None else max_words
        threshold = config.relative_threshold if relative_threshold is None else relative_threshold
        candidates = self._candidates(probabilities, prefix, max_words + 2)
        if not candidates:
            return WordChoice((), 0.0)
        first = candidates[0][1]
        picked = [candidates[0][0]]
        for word, value in candidates[1:]:
            if picked == [prefix]:  # the prefix alone is no name, so the next word joins it
                picked.append(word)
            elif len(picked) < max_words and value >= threshold * first:
                picked.append(word)
            else:
                break
        ordered = sorted(picked, key=lambda w: (w != prefix, self.positions.get(w, 0.5)))
        return WordChoice(tuple(ordered), first)

    def _candidates(self, probabilities: torch.Tensor, prefix: str | None, count: int) -> list[tuple[str, float]]:
        """Return the ``count`` most probable words, ``<prefix>`` written out or dropped, without repeats."""
        values, indices = probabilities.topk(min(count, len(probabilities)))  # [k], [k]
        candidates: list[tuple[str, float]] = []
        for value, index in zip(values.tolist(), indices.tolist()):
            word = self.model.words[index]
            if word == PREFIX_WORD:
                word = prefix
            if word and word not in (w for w, _ in candidates):
                candidates.append((word, value))
        return candidates

    def name(self, assemblies: Sequence[str], prefixes: Sequence[str | None]) -> list[GeneratedName]:
        """Name each assembly text; ``prefixes`` gives each one's library prefix (or None)."""
        if len(prefixes) != len(assemblies):
            raise ValueError(f"{len(assemblies)} functions but {len(prefixes)} prefixes")
        probabilities = self.probabilities(assemblies)  # [N, V]
        names = []
        for row, prefix in zip(probabilities, prefixes):
            choice = self.choose(row, prefix)
            text = "_".join(choice.words) or None
            names.append(GeneratedName(text, "", round(choice.confidence, 4), text or "", source=SOURCE_WORDS))
        return names
