"""Address spaces: what the normaliser prints for an address in one ELF file.

A linked file already has virtual addresses (LinkedSpace in linked.py). A
relocatable object does not, so RelocatableSpace (in relocatable.py) lays its
sections out at made-up addresses and applies its relocations. After that,
both kinds are classified by the same rules in AddressSpace. An address
resolves to

* an import, printed as ``<name>`` with any ``@VERSION`` suffix removed;
* a symbol defined by another member of the same archive, which has no
  address here: INTERNAL_CODE for a function, a quoted string for a
  read-only string object, and INTERNAL for anything else;
* or an address, printed from the section it falls in: a quoted string in
  .rodata*, ``FUNC`` in code, ``DATA`` (rip-relative) or ``ADDR`` (absolute).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from binbridge.binary.elf import SHF_TLS, SHT_NOBITS, ElfFile, Section

INTERNAL = "INTERNAL"
INTERNAL_CODE = "INTERNAL_CODE"
MAX_STRING_LENGTH = 40
MAX_STRING_SCAN = 1 << 16

_STRING = re.compile(rb"[\t\n\r\x20-\x7e]*\x00")
EMPTY_STRING = '""'
# What import_text and quote_string print, read back from normalised assembly: the name in
# <name> and the escaped text in "text".
IMPORT_PATTERN = re.compile(r"<([A-Za-z_.$][\w.$@]*)>")
STRING_PATTERN = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"})


@dataclass(frozen=True, slots=True)
class Region:
    """A section placed at [start, end) in an address space."""

    start: int
    end: int
    section: Section


def read_string(data: bytes, offset: int) -> str | None:
    """Return the NUL-terminated printable ASCII string at an offset, or None."""
    match = _STRING.match(data, offset, min(len(data), offset + MAX_STRING_SCAN))
    return None if match is None else match.group()[:-1].decode("ascii")


def is_import(resolved: int | str) -> bool:
    return isinstance(resolved, str) and resolved.startswith("<")


def import_text(name: str) -> str:
    """Return the printed form of an imported symbol: ``<name>`` without a version suffix."""
    return f"<{name.split('@', 1)[0]}>"


def quote_string(text: str) -> str:
    if len(text) > MAX_STRING_LENGTH:
        return '"' + text[:MAX_STRING_LENGTH].translate(_ESCAPES) + '..."'
    return '"' + text.translate(_ESCAPES) + '"'


class AddressSpace:
    """Sections placed at addresses, plus the import and GOT knowledge of one file.

    Subclasses pass ``bases`` (section index to address), implement
    ``resolve``, and may store relocated contents in ``_data``.
    """

    # "none": keep absolute numbers; "all": every hex number inside a section
    # (non-PIE executables); "sites": only at absolute relocations (objects).
    absolute_mode = "none"

    def __init__(self, elf: ElfFile | None, bases: dict[int, int]) -> None:
        self.elf = elf
        self.bases = bases
        placed = sorted(
            ((base, section) for index, base in bases.items()
             for section in (elf.sections[index],)
             if section.is_alloc and section.size > 0 and not (section.type == SHT_NOBITS and section.flags & SHF_TLS)),
            key=lambda pair: (pair[0], pair[1].index),
        )
        self._starts = [base for base, _ in placed]
        self._regions = [Region(base, base + section.size, section) for base, section in placed]
        self._data: dict[int, bytes] = {}
        self._strings: dict[int, str | None] = {}
        self.absolute_sites: list[int] = []
        if self._regions:
            self.low = self._regions[0].start
            self.high = max(region.end for region in self._regions)
        else:
            self.low = self.high = 0

    def section_bytes(self, section: Section) -> bytes:
        data = self._data.get(section.index)
        if data is None:
            data = self.elf.section_data(section)
            self._data[section.index] = data
        return data

    def region(self, address: int) -> Region | None:
        position = bisect.bisect_right(self._starts, address) - 1
        if position >= 0 and address < self._regions[position].end:
            return self._regions[position]
        return None

    def resolve(self, address: int) -> int | str:
        """Return an import's ``<name>``, an archive symbol's token, or the address (possibly through a GOT slot)."""
        return address

    def string_at(self, address: int, allow_empty: bool = False) -> str | None:
        """Return the quoted NUL-terminated printable string at an address in .rodata*, or None.

        An empty string (a lone NUL) is accepted only with allow_empty, which
        callers set for ``lea`` and ``mov reg, imm``: a NUL byte alone is too
        weak a sign of a string for loads such as ``movsd xmm0, [rip + X]``.
        """
        text = self._strings.get(address, False)
        if text is False:
            text = None
            found = self.region(address)
            if found is not None:
                section = found.section
                if (section.name.startswith(".rodata") and not section.is_executable and not section.is_writable
                        and section.type != SHT_NOBITS):
                    raw = read_string(self.section_bytes(section), address - found.start)
                    if raw is not None:
                        text = quote_string(raw)
            self._strings[address] = text
        if text == EMPTY_STRING and not allow_empty:
            return None
        return text

    def pointee_text(self, target: int | str, allow_empty: bool = False) -> str:
        """Print what a rip-relative operand or GOT slot points at, given resolve's result."""
        if isinstance(target, str):
            if target == INTERNAL_CODE:
                return "FUNC"
            if target == INTERNAL or (target == EMPTY_STRING and not allow_empty):
                return "DATA"
            return target
        found = self.region(target)
        if found is not None and found.section.is_executable:
            return "FUNC"
        return self.string_at(target, allow_empty) or "DATA"

    def absolute_text(self, value: int, allow_empty: bool = False, allow_string: bool = True) -> str | None:
        """Print an absolute address operand, or return None when the value is no address."""
        resolved = self.resolve(value)
        if isinstance(resolved, str):
            if is_import(resolved) or (allow_string and resolved.startswith('"')
                                       and (allow_empty or resolved != EMPTY_STRING)):
                return resolved
            return "ADDR"
        if self.region(resolved) is None:
            return None
        if not allow_string:
            return "ADDR"
        return self.string_at(resolved, allow_empty) or "ADDR"

    def has_absolute_site(self, start: int, end: int) -> bool:
        sites = self.absolute_sites
        position = bisect.bisect_left(sites, start)
        return position < len(sites) and sites[position] < end
