"""Context hints: the import names and strings of a function, written as decoder text.

The normaliser prints a call to an import as ``call <malloc>`` and a reference
to a read-only string as ``[rip + "usage: %s"]``. Both survive stripping, and
both name what a function does more directly than its instructions, so the
decoder reads them as plain text after the instruction, where it can copy
words from them:

    Calls: getenv strtol
    Strings: "COLUMNS" "ignoring invalid width"

The soft prompt still carries the whole function; the hints only repeat what
the assembly already shows, in the decoder's own vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from binbridge.binary.space import IMPORT_PATTERN, STRING_PATTERN

# Symbol versions (`malloc@GLIBC_2.2.5`) and the PLT suffix add nothing to the name.
_VERSION = re.compile(r"@.*$")
_RUNTIME_IMPORTS = frozenset({"__stack_chk_fail", "__cxa_finalize", "_GLOBAL_OFFSET_TABLE_"})


@dataclass(frozen=True)
class ContextHints:
    """Distinct import names and strings in order of first use."""

    imports: tuple[str, ...]
    strings: tuple[str, ...]

    def text(self) -> str:
        """The decoder text; empty when the function shows neither imports nor strings."""
        lines = []
        if self.imports:
            lines.append("Calls: " + " ".join(self.imports))
        if self.strings:
            lines.append("Strings: " + " ".join(f'"{s}"' for s in self.strings))
        return "".join(line + "\n" for line in lines)


def _distinct(values, limit: int) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        if value and value not in seen:
            seen[value] = None
            if len(seen) == limit:
                break
    return tuple(seen)


def _shorten(text: str, limit: int) -> str:
    """Cut a string to at most limit characters, at a space when there is one."""
    if len(text) > limit:
        cut = text[:limit]
        space = cut.rfind(" ")
        text = cut[:space] if space > 0 else cut
    # A cut after a backslash would escape the closing quote.
    return text.strip().rstrip("\\").strip()


def find_hints(assembly: str, *, max_imports: int = 8, max_strings: int = 4,
               max_string_chars: int = 48) -> ContextHints:
    """Collect the imports called or referenced and the strings referenced by normalised assembly."""
    imports = (_VERSION.sub("", match.group(1)) for match in IMPORT_PATTERN.finditer(assembly))
    imports = (name for name in imports if name not in _RUNTIME_IMPORTS)
    strings = (_shorten(match.group(1), max_string_chars) for match in STRING_PATTERN.finditer(assembly))
    return ContextHints(imports=_distinct(imports, max_imports), strings=_distinct(strings, max_strings))
