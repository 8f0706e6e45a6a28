"""Rule-based English lemmatiser for name words, used by the optional ``lemmatize`` setting.

It needs no word list or download. It maps inflected forms of one word to one
key, so ``parse``, ``parses``, ``parsed`` and ``parsing`` all become ``pars``.
The key is not always a dictionary word, which does not matter because both the
true and the predicted words pass through the same function before comparison.

Rules, applied in this order to a lowercase word:

1. A small table of irregular forms (``does`` -> ``do``, ``written`` -> ``write``, ...).
2. Words of at most 3 letters are returned unchanged.
3. Plural and third person ``-s``: ``-ies`` -> ``-y`` (``entries``), ``-sses`` -> ``-ss``
   (``classes``), ``-ches``/``-shes``/``-xes``/``-zzes`` lose ``-es`` (``matches``,
   ``boxes``). Words ending in ``-ss``, ``-us``, ``-is`` or ``-as`` keep their ``s``
   (``class``, ``status``, ``analysis``, ``alias``). Any other final ``s`` is removed.
4. ``-ing`` and ``-ed`` are removed when the remaining stem has at least 3 letters and a
   vowel (so ``string`` and ``thing`` stay). ``-ied`` becomes ``-y`` (``copied``) and
   ``-eed`` becomes ``-ee`` (``freed``). A doubled final consonant other than l, s or z
   is undoubled (``getting`` -> ``get``, ``stopped`` -> ``stop``, but ``calling`` -> ``call``).
5. A final ``e`` is removed from words of 4 or more letters unless they end in ``ee``,
   so ``parse`` and ``pars`` (from ``parsing``) meet.

NOTE: the rules are approximate. Some families still split (``embed`` -> ``emb`` but
``embedded`` -> ``embed``) and a few unrelated words may share a key.
"""

from __future__ import annotations

_IRREGULAR = {
    "does": "do",
    "did": "do",
    "done": "do",
    "doing": "do",
    "has": "have",
    "had": "have",
    "having": "have",
    "is": "be",
    "are": "be",
    "was": "be",
    "were": "be",
    "been": "be",
    "being": "be",
    "got": "get",
    "gotten": "get",
    "found": "find",
    "made": "make",
    "sent": "send",
    "built": "build",
    "began": "begin",
    "begun": "begin",
    "wrote": "write",
    "written": "write",
    "used": "use",
    "using": "use",
    "children": "child",
    "indices": "index",
    "vertices": "vertex",
    "matrices": "matrix",
}

_VOWELS = frozenset("aeiouy")
_KEEP_S_ENDINGS = ("ss", "us", "is", "as")
_ES_PLURAL_ENDINGS = ("ches", "shes", "xes", "zzes")
_NO_UNDOUBLE = frozenset("lsz")


def lemmatize_word(word: str) -> str:
    """Map a lowercase word to the key shared by its inflected forms (see the module rules)."""
    irregular = _IRREGULAR.get(word)
    if irregular is not None:
        return _drop_final_e(irregular)
    if len(word) <= 3:
        return word

    word = _strip_plural(word)
    word = _strip_verb_suffix(word)
    return _drop_final_e(word)


def _strip_plural(word: str) -> str:
    if not word.endswith("s") or word.endswith(_KEEP_S_ENDINGS):
        return word
    if word.endswith("ies") and len(word) >= 5:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith(_ES_PLURAL_ENDINGS):
        return word[:-2]
    return word[:-1]


def _strip_verb_suffix(word: str) -> str:
    if word.endswith("ied") and len(word) >= 5:
        return word[:-3] + "y"
    if word.endswith("eed") and len(word) >= 5:
        return word[:-1]

    for suffix in ("ing", "ed"):
        if not word.endswith(suffix):
            continue
        stem = word[: -len(suffix)]
        if len(stem) < 3 or not _VOWELS.intersection(stem):
            return word
        return _undouble(stem)
    return word


def _undouble(stem: str) -> str:
    last = stem[-1]
    if stem[-2] == last and last not in _VOWELS and last not in _NO_UNDOUBLE:
        return stem[:-1]
    return stem


def _drop_final_e(word: str) -> str:
    if len(word) >= 4 and word.endswith("e") and not word.endswith("ee"):
        return word[:-1]
    return word
