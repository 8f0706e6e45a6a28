"""Map code addresses to the source file and line of the function that contains them, from DWARF.

Each DW_TAG_subprogram with code contributes its address ranges: one
[DW_AT_low_pc, DW_AT_high_pc) range, or the list in DW_AT_ranges that GCC
writes for functions split into hot and cold parts (``foo`` and
``foo.cold``). Out-of-line copies of inlined or cloned functions point
to their declaration through DW_AT_abstract_origin or DW_AT_specification,
which is followed for the name, file and line.
"""

from __future__ import annotations

import bisect
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import DWARFError, ELFError
from elftools.construct.core import ConstructError
from elftools.dwarf.die import DIE
from elftools.dwarf.ranges import BaseAddressEntry, RangeEntry
from elftools.elf.elffile import ELFFile

logger = logging.getLogger(__name__)

_ORIGIN_ATTRIBUTES = ("DW_AT_abstract_origin", "DW_AT_specification")
# Chains of abstract origins are short (clone -> inline instance -> declaration). The bound stops corrupt loops.
_MAX_ORIGIN_DEPTH = 8


@dataclass(frozen=True)
class SourceLocation:
    """Declaration site of a function: its DWARF name, source path and 1-based line."""

    name: str
    file: str
    line: int


@dataclass(frozen=True)
class _Range:
    low: int
    high: int
    location: SourceLocation


class DwarfIndex:
    """Address ranges of every function that DWARF describes, for lookup by address."""

    def __init__(self, ranges: list[_Range]) -> None:
        self._ranges = sorted(ranges, key=lambda item: (item.low, item.high))
        self._lows = [item.low for item in self._ranges]

    def __len__(self) -> int:
        return len(self._ranges)

    @classmethod
    def from_elf(cls, path: str | os.PathLike[str]) -> DwarfIndex:
        """Index the DWARF of a linked ELF file, or return an empty index when it has no .debug_info."""
        with open(path, "rb") as handle:
            try:
                elf = ELFFile(handle)
                if not elf.has_dwarf_info() or elf.get_section_by_name(".debug_info") is None:
                    return cls([])
                dwarf = elf.get_dwarf_info()
                files = _FileTables(dwarf)
                ranges = []
                for unit in dwarf.iter_CUs():
                    ranges.extend(_unit_ranges(dwarf, unit, files))
            except (ELFError, DWARFError, ConstructError, ValueError, KeyError, IndexError) as error:
                logger.warning("%s: cannot read DWARF, so source_code stays empty: %s", path, error)
                return cls([])
        return cls(ranges)

    def lookup(self, address: int) -> SourceLocation | None:
        """Return the location of the function whose ranges contain address, or None."""
        position = bisect.bisect_right(self._lows, address) - 1
        # Ranges of different functions do not overlap in C, but nested GNU C functions lie inside their parent.
        while position >= 0:
            item = self._ranges[position]
            if item.low <= address < item.high:
                return item.location
            if address - item.low > 1 << 24:
                break
            position -= 1
        return None


def _unit_ranges(dwarf, unit, files: _FileTables) -> list[_Range]:
    top = unit.get_top_DIE()
    base = top.attributes["DW_AT_low_pc"].value if "DW_AT_low_pc" in top.attributes else 0
    ranges = []
    for die in _subprograms(top):
        spans = _die_ranges(dwarf, unit, die, base)
        if not spans:
            continue
        location = _location(die, files)
        if location is None:
            continue
        ranges.extend(_Range(low, high, location) for low, high in spans if high > low)
    return ranges


def _subprograms(top: DIE):
    """Yield the subprogram DIEs of a unit, including GNU C nested functions."""
    stack = list(top.iter_children())
    while stack:
        die = stack.pop()
        if die.tag == "DW_TAG_subprogram":
            yield die
            stack.extend(child for child in die.iter_children() if child.tag == "DW_TAG_subprogram")
        elif die.tag == "DW_TAG_namespace":
            stack.extend(die.iter_children())


def _die_ranges(dwarf, unit, die: DIE, base: int) -> list[tuple[int, int]]:
    attributes = die.attributes
    if "DW_AT_low_pc" in attributes and "DW_AT_high_pc" in attributes:
        low = attributes["DW_AT_low_pc"].value
        high = attributes["DW_AT_high_pc"]
        # DWARF 4+ writes high_pc as a length (a constant form) unless it is an address.
        end = high.value if high.form == "DW_FORM_addr" else low + high.value
        return [(low, end)]
    if "DW_AT_ranges" not in attributes:
        return []
    attribute = attributes["DW_AT_ranges"]
    range_lists = dwarf.range_lists()
    if range_lists is None or attribute.form == "DW_FORM_rnglistx":
        # NOTE: rnglistx (split DWARF, -gsplit-dwarf) is not resolved, so such functions get no source_code.
        return []
    spans = []
    for entry in range_lists.get_range_list_at_offset(attribute.value, cu=unit):
        if isinstance(entry, BaseAddressEntry):
            base = entry.base_address
        elif isinstance(entry, RangeEntry):
            offset = 0 if entry.is_absolute else base
            spans.append((entry.begin_offset + offset, entry.end_offset + offset))
    return spans


def _location(die: DIE, files: _FileTables) -> SourceLocation | None:
    chain = [die]
    for _ in range(_MAX_ORIGIN_DEPTH):
        key = next((attribute for attribute in _ORIGIN_ATTRIBUTES if attribute in chain[-1].attributes), None)
        if key is None:
            break
        chain.append(chain[-1].get_DIE_from_attribute(key))
    name = next((_text(item, "DW_AT_name") for item in chain if "DW_AT_name" in item.attributes), None)
    # The decl line and decl file come from the same DIE where it has both.
    declaring = next((item for item in chain if "DW_AT_decl_line" in item.attributes), None)
    if not name or declaring is None:
        return None
    position = chain.index(declaring)
    with_file = next((item for item in chain[position:] if "DW_AT_decl_file" in item.attributes), None)
    if with_file is None:
        return None
    path = files.for_unit(with_file.cu).get(with_file.attributes["DW_AT_decl_file"].value)
    if path is None:
        return None
    return SourceLocation(name, path, int(declaring.attributes["DW_AT_decl_line"].value))


class _FileTables:
    """File tables of the units of one DWARF tree, built on first use."""

    def __init__(self, dwarf) -> None:
        self.dwarf = dwarf
        self._tables: dict[int, dict[int, str]] = {}

    def for_unit(self, unit) -> dict[int, str]:
        table = self._tables.get(unit.cu_offset)
        if table is None:
            comp_dir = _text(unit.get_top_DIE(), "DW_AT_comp_dir") or ""
            table = _file_table(self.dwarf, unit, comp_dir)
            self._tables[unit.cu_offset] = table
        return table


def _file_table(dwarf, unit, comp_dir: str) -> dict[int, str]:
    """Map DW_AT_decl_file indexes of a unit to absolute paths.

    DWARF 5 numbers files from 0 and directories from 0 (the compilation
    folder); DWARF 2-4 number files from 1 and use directory 0 for comp_dir.
    """
    program = dwarf.line_program_for_CU(unit)
    if program is None:
        return {}
    version = program.header["version"]
    directories = [_decode(item) for item in program.header["include_directory"]]
    table = {}
    for position, entry in enumerate(program.header["file_entry"]):
        index = position if version >= 5 else position + 1
        directory_index = entry.dir_index
        if version >= 5:
            directory = directories[directory_index] if directory_index < len(directories) else ""
        else:
            directory = comp_dir if directory_index == 0 else (
                directories[directory_index - 1] if directory_index - 1 < len(directories) else "")
        path = Path(directory) / _decode(entry.name)
        if not path.is_absolute():
            path = Path(comp_dir) / path
        table[index] = os.path.normpath(path)
    return table


def _text(die: DIE, attribute: str) -> str | None:
    if attribute not in die.attributes:
        return None
    return _decode(die.attributes[attribute].value)


def _decode(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
