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

The identifier is the name of the function whose code makes the call. That is
the caller itself, unless the code was inlined from another function. GCC may
also clone the reporting function with the strings built in, and then
``fail.constprop.0`` carries its caller's name. On the stripped binutils programs this rule
names 8.4% of the functions. Three quarters of these names are the exact debug
name (C++ names compared demangled), and most of the rest name an inlined
callee (docs/BENCHMARKS.md). Reverse engineers apply the same rule by hand, so
Binbridge reports these names with ``source`` ``string``.

glibc's ``assert`` passes the expression too, which may be an identifier
(``assert(ctx)``), so for ``__assert_fail`` the function argument (``rcx``)
is taken. Two limits: the normaliser cuts strings at 40 characters, so a longer
``__FILE__`` (an absolute path, as CMake passes) is not seen as a source path;
and a call that passes a source file name as data, with one identifier and a
number (``snprintf(cmd, n, fmt, "gcc", "main.c", out)``), looks the same.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from binbridge.binary.space import IMPORT_PATTERN, STRING_PATTERN
from binbridge.model.binbridge import GeneratedName

SOURCE_STRING = "string"
# Measured: 75% of these names equal the debug name on the stripped binutils programs (C++ names
# compared demangled), 86% on the corpus's training split (docs/BENCHMARKS.md).
STRING_NAME_CONFIDENCE = 0.75

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,39}")
# A source path as __FILE__ expands it: a file name with a C, C++, lex or yacc extension.
_SOURCE_PATH = re.compile(r"(?!www\.)[\w./+-]*\w\.(?:c|h|cc|cpp|cxx|hpp|y|l|def|inc)")
# __PRETTY_FUNCTION__ of C++: "int geo::Rect::area(int) const", "void f(T) [with T = int]".
# The name follows a return type or a class (" " or "::"), which an assertion's expression,
# such as "VG_IS_PAGE_ALIGNED(a)", lacks.
_SIGNATURE = re.compile(
    r"(?:\s|::)(~?[A-Za-z_][A-Za-z0-9_]*)(?:<[^()]*>)?\((?:[^()]|\([^()]*\))*\)"
    r"(?:\s*(?:const|volatile|noexcept|&|&&))*(?: \[with [^\]]*\])?$"
)
# The same, cut at 40 characters by the normaliser after the name's bracket: "T geo::clamp_sum(const ...".
_CUT_SIGNATURE = re.compile(r"(?:\s|::)(~?[A-Za-z_][A-Za-z0-9_]*)(?:<[^()]*>)?\([^()]*\.\.\.$")
_EXPRESSION = re.compile(r"==|!=|&&|\|\||<=|>=| [<>] |^!")
# __LINE__: a number moved into a 32-bit argument register (not a stack adjustment).
_NUMBER_OPERAND = re.compile(r"^mov (?:e[a-z]{2}|r\d+d), (?:0x[0-9a-f]+|\d+)$")
# glibc's assert calls __assert_fail(expression, file, line, function): the function is in rcx.
_ASSERT_CALL = re.compile(r"^call <__assert_fail>")
_FOURTH_ARGUMENT = re.compile(r"^(?:lea rcx|mov rcx|mov ecx), ")
# Branches end the argument setup of a call; a call ends it and uses it.
_BLOCK_END = re.compile(r"^(?:call|jmp|j[a-z]{1,3}|ret)\b")


@dataclass
class _Arguments:
    """The strings that the instructions between two branches load, and whether a number is among them."""

    strings: list[str] = field(default_factory=list)
    has_number: bool = False
    fourth: str | None = None
    """The string loaded into rcx, __assert_fail's function argument."""
    asserts: bool = False
    """Whether the block ends in a call to __assert_fail."""


def string_name(assembly: str) -> str | None:
    """Return the ``__func__`` name that the function passes with its source path, or None.

    The strings loaded between two branch instructions are one call's arguments.
    A block with a source path (``__FILE__``), and a number (``__LINE__``) in it or
    in the next block, gives a candidate: the name in a C++ signature string (``__PRETTY_FUNCTION__``), or
    else the block's only identifier string. Identifiers that name a function the
    code imports (``"malloc"`` next to ``call <malloc>``) are messages about that
    call, not names. The candidate given most often wins, the earliest on a tie.
    """
    imports = imported_names(assembly)
    blocks = [_Arguments()]
    for line in assembly.splitlines():
        block = blocks[-1]
        # PIE code loads a string with lea reg, [rip + "text"], non-PIE code with mov reg, "text".
        strings = STRING_PATTERN.findall(line)
        block.strings.extend(strings)
        block.has_number = block.has_number or bool(_NUMBER_OPERAND.match(line))
        if strings and _FOURTH_ARGUMENT.match(line):
            block.fourth = strings[-1]
        if _BLOCK_END.match(line):
            block.asserts = bool(_ASSERT_CALL.match(line))
            blocks.append(_Arguments())
    candidates: Counter[str] = Counter()
    for block, following in zip(blocks, blocks[1:] + [_Arguments()]):
        # OpenSSL loads __FILE__ and __func__, calls ERR_new(), then passes them on with the line.
        if block.has_number or following.has_number:
            _add_candidate(block, imports, candidates)
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


def imported_names(assembly: str) -> set[str]:
    """Return the names of the imports that normalised assembly calls or reads (``<malloc>``)."""
    return set(IMPORT_PATTERN.findall(assembly))


def _signature_name(text: str) -> str | None:
    """Return the function name in a C++ signature string, whole or cut at 40 characters, or None."""
    if _EXPRESSION.search(text):
        return None
    match = _SIGNATURE.search(text) or _CUT_SIGNATURE.search(text)
    return match.group(1) if match else None


def _add_candidate(block: _Arguments, imports: set[str], candidates: Counter[str]) -> None:
    if not any(_SOURCE_PATH.fullmatch(text) for text in block.strings):
        return
    if block.asserts and block.fourth is not None:
        named = _signature_name(block.fourth) or (block.fourth if _IDENTIFIER.fullmatch(block.fourth) else None)
        if named and named not in imports:
            candidates[named] += 1
        return
    signatures = {name for text in block.strings for name in [_signature_name(text)] if name}
    if signatures:
        names = signatures
    elif any("::" in text for text in block.strings):
        return  # a C++ signature cut at 40 characters: the identifiers are something else
    else:
        names = {text for text in block.strings if _IDENTIFIER.fullmatch(text)}
    names -= imports
    if len(names) == 1:
        candidates[names.pop()] += 1
