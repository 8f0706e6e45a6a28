"""Names that a function's own strings give away: the ``__func__`` argument of assertion and error calls.

C code reports failures with macros that pass ``__FILE__``, ``__LINE__`` and
``__func__`` to a reporting function (glibc ``assert``, binutils ``abort``,
OpenSSL ``ERR_raise``, many projects' logging). Stripping removes the symbol
table but not these strings, so a call whose arguments are a source-file path
and an identifier names the function that makes it:

    lea rdx, [rip + "notes_calloc"]          <- __func__
    mov esi, 0x108                           <- __LINE__
    lea rdi, [rip + "../../gas/symbols.c"]   <- __FILE__
    call FUNC

The identifier is the name of the function whose code holds the call, which is
the caller itself unless that code was inlined from another function, or GCC
cloned the reporting function with the strings built in (``fail.constprop.0``
then carries its caller's name). On the
stripped binutils programs this rule names about 8% of the functions, and the
string is the exact debug name for about a fifth of them; the rest are mostly
inlined callees (docs/BENCHMARKS.md). Reverse engineers apply the same rule by
hand, so Binbridge reports these names with ``source`` ``string``.
"""

from __future__ import annotations

import re
from collections import Counter

from binbridge.model.binbridge import GeneratedName

SOURCE_STRING = "string"
# Measured: 75% of these names equal the debug name on the stripped binutils programs (C++ names
# compared demangled), 86% on the corpus's training split (docs/BENCHMARKS.md).
STRING_NAME_CONFIDENCE = 0.75

# A string operand as the normaliser prints it: [rip + "text"], with \" and \\ escaped.
_STRING_OPERAND = re.compile(r'\[rip \+ "((?:[^"\\]|\\.)*)"\]')
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,39}")
# A source path as __FILE__ expands it: a file name with a C, C++, lex or yacc extension.
_SOURCE_PATH = re.compile(r"[\w./+-]*\w\.(?:c|h|cc|cpp|cxx|hpp|y|l|def|inc)")
# Branches end the argument setup of a call; a call ends it and uses it.
_BLOCK_END = re.compile(r"^(?:call|jmp|j[a-z]{1,3}|ret)\b")


def string_name(assembly: str) -> str | None:
    """Return the ``__func__`` identifier that the function passes with a source path, or None.

    The strings loaded between two branch instructions are one call's arguments.
    A block with a source path and exactly one identifier gives a candidate; the
    candidate given most often wins, the earliest one on a tie.
    """
    candidates: Counter[str] = Counter()
    block: list[str] = []
    for line in assembly.splitlines():
        block.extend(_STRING_OPERAND.findall(line))
        if _BLOCK_END.match(line):
            _add_candidate(block, candidates)
            block = []
    _add_candidate(block, candidates)
    if not candidates:
        return None
    return candidates.most_common(1)[0][0]


def string_prediction(assembly: str) -> GeneratedName | None:
    """Return ``string_name`` as a prediction with source ``string``, or None."""
    name = string_name(assembly)
    if name is None:
        return None
    return GeneratedName(name=name, analysis="", confidence=STRING_NAME_CONFIDENCE, raw_text="",
                         source=SOURCE_STRING)


def _add_candidate(block: list[str], candidates: Counter[str]) -> None:
    if not any(_SOURCE_PATH.fullmatch(text) for text in block):
        return
    identifiers = {text for text in block if _IDENTIFIER.fullmatch(text)}
    if len(identifiers) == 1:
        candidates[identifiers.pop()] += 1
