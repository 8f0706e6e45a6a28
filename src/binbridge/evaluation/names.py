"""Split function names into the words that the two metric variants compare.

The variants are named after SymLM and XFL, whose papers report word-level
precision, recall and F1 for predicted function names. The rules here are this
module's own and are listed in each function. The SymLM-style split
(``symlm_words``) splits at underscores, non-letters and camelCase boundaries. The
XFL-style split (``xfl_words``) first strips compiler and library decorations, then
splits only at non-letters, so ``parseHTTPResponse`` stays one word.
"""

from __future__ import annotations

import re

from binbridge.data.demangle import base_function_name
from binbridge.evaluation.lemmatize import lemmatize_word

_NON_LETTERS = re.compile(r"[^A-Za-z]+")

# Inside a run of letters: a run of capitals that is followed by a capitalised word
# (the "XML" of "XMLParser"), a word with at most one leading capital, or a run of capitals.
_CAMEL_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")

# GCC and Clang clone suffixes. They are stripped from the end repeatedly, so chains such
# as ``foo.constprop.0.isra.0`` or ``foo.part.0.cold`` lose every part. The keywords are
# ``.cold`` (hot/cold splitting), ``.part`` (partial inlining), ``.isra`` (scalar
# replacement of aggregates), ``.constprop`` (constant propagation), ``.lto_priv``
# (LTO-private statics), ``.clone`` and ``.localalias`` (GCC aliases) and ``.llvm``
# (ThinLTO-promoted locals). Each may carry a numeric ``.N``.
CLONE_SUFFIX_KEYWORDS = ("cold", "part", "isra", "constprop", "lto_priv", "clone", "localalias", "llvm")
_CLONE_SUFFIX = re.compile(r"\.(?:" + "|".join(CLONE_SUFFIX_KEYWORDS) + r")(?:\.\d+)?$")

# glibc internal aliases (``__GI_``, ``__libc_``, ``_IO_``), C99/C23 scanf-family aliases
# and GNU ld ``--wrap`` symbols. Removed repeatedly, so ``__GI___libc_malloc`` becomes ``malloc``.
LIBRARY_PREFIXES = ("__GI_", "__libc_", "_IO_", "__isoc99_", "__isoc23_", "__wrap_", "__real_")


def symlm_words(name: str, *, lemmatize: bool = False) -> list[str]:
    """Split ``name`` into lowercase SymLM-style words, in order and with repeats.

    ``parseHTTPResponse`` -> parse, http, response; ``getURL2`` -> get, url;
    ``SSL_CTX_new`` -> ssl, ctx, new. Digits and other non-letters separate words and
    are dropped. With ``lemmatize``, each word passes through ``lemmatize_word``.
    """
    words: list[str] = []
    for chunk in _NON_LETTERS.split(name):
        for match in _CAMEL_WORD.finditer(chunk):
            words.append(match.group(0).lower())

    if lemmatize:
        words = [lemmatize_word(word) for word in words]
    return words


def strip_decorations(name: str) -> str:
    """Remove version, clone-suffix and library-prefix decorations from a symbol name.

    The steps run in this order:

    1. Cut everything from the first ``@`` (``memcpy@GLIBC_2.14``, ``foo@@GLIBC_2.2.5``, ``bar@plt``).
    2. Remove trailing clone suffixes (see ``CLONE_SUFFIX_KEYWORDS``).
    3. Reduce a mangled C++ name to the function's own name
       (``_ZN4gold6Symbol9set_valueEm`` -> ``set_value``, see ``binbridge.data.demangle``).
    4. Remove the prefixes in ``LIBRARY_PREFIXES``.
    5. Remove leading underscores.

    Steps 1 to 4 are skipped where they would leave an empty name, but step 5 turns a
    name made only of underscores into ``""``.
    """
    stripped = name.strip()

    at = stripped.find("@")
    if at > 0:
        stripped = stripped[:at]

    while True:
        match = _CLONE_SUFFIX.search(stripped)
        if match is None or match.start() == 0:
            break
        stripped = stripped[: match.start()]

    stripped = base_function_name(stripped)
    changed = True
    while changed:
        changed = False
        for prefix in LIBRARY_PREFIXES:
            if stripped.startswith(prefix) and len(stripped) > len(prefix):
                stripped = stripped[len(prefix) :]
                changed = True

    return stripped.lstrip("_")


def xfl_words(name: str, *, min_length: int = 2) -> list[str]:
    """Split ``name`` into lowercase XFL-style words, in order and with repeats.

    The name first passes through ``strip_decorations``. It is then lowercased and split
    at every non-letter, and words shorter than ``min_length`` letters are dropped.
    """
    lowered = strip_decorations(name).lower()
    return [word for word in _NON_LETTERS.split(lowered) if len(word) >= min_length]
