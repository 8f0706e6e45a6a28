"""Cut a C function's text out of its source file, from its declaration line to the matching closing brace.

The brace matcher skips comments, string literals and character literals,
but not preprocessor conditionals: a function whose ``#if`` branches open
different numbers of braces can come out too long or too short.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from binbridge.corpus.dwarf import SourceLocation

logger = logging.getLogger(__name__)

# Maximum length of a function text in characters. Longer texts usually come from a brace mismatch.
MAX_FUNCTION_CHARS = 100_000
SOURCE_FILE_CACHE = 64


@lru_cache(maxsize=SOURCE_FILE_CACHE)
def _read_lines(path: str) -> tuple[str, ...] | None:
    try:
        return tuple(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(keepends=True))
    except OSError:
        return None


def function_source(location: SourceLocation) -> str:
    """Return the function's text, or "" when the file is unreadable or the text does not look like it.

    The text must contain the function's name before its opening brace, which
    rejects locations inside macro expansions and stale files.
    """
    lines = _read_lines(location.file)
    if lines is None or not 1 <= location.line <= len(lines):
        return ""
    first = location.line - 1
    if first > 0 and lines[first].lstrip().startswith(location.name) and _is_return_type_line(lines[first - 1]):
        first -= 1
    text = "".join(lines[first:])
    end = matching_brace_end(text)
    if end is None:
        return ""
    body_start = _code_index(text, "{")
    if body_start is None or location.name not in text[:body_start]:
        return ""
    return text[:end]


def _is_return_type_line(line: str) -> bool:
    """Return whether line looks like the return type of a GNU-style definition (``static int`` above ``foo (void)``)."""
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", "//", "/*", "*")):
        return False
    return not stripped.endswith((";", "{", "}", "*/", ")", ",", "\\"))


def matching_brace_end(text: str) -> int | None:
    """Return the index just past the brace that closes the first ``{`` of text, or None.

    None also means that a ``;`` ended a declaration at depth 0 before any
    brace opened (which rejects K&R parameter declarations too), or that the
    text ran past MAX_FUNCTION_CHARS.
    """
    depth = 0
    paren_depth = 0
    for index, char in _code_characters(text):
        if index > MAX_FUNCTION_CHARS:
            return None
        if char == "(":
            paren_depth += 1
        elif char == ")":
            paren_depth -= 1
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
            if depth < 0:
                return None
        elif char == ";" and depth == 0 and paren_depth == 0:
            return None
    return None


def _code_index(text: str, target: str) -> int | None:
    for index, char in _code_characters(text):
        if char == target:
            return index
    return None


def _code_characters(text: str):
    """Yield (index, character) for characters outside comments, strings and character literals."""
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "/" and text.startswith("//", index):
            newline = text.find("\n", index)
            index = length if newline < 0 else newline
            continue
        if char == "/" and text.startswith("/*", index):
            close = text.find("*/", index + 2)
            index = length if close < 0 else close + 2
            continue
        if char in "\"'":
            index = _skip_literal(text, index, char)
            continue
        yield index, char
        index += 1


def _skip_literal(text: str, start: int, quote: str) -> int:
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == quote or char == "\n":
            return index + 1
        index += 1
    return index
