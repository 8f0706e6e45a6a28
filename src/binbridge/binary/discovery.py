"""Function discovery: where each function starts and ends, and its name if known.

Functions come from .symtab when it has sized STT_FUNC symbols in code
sections, and otherwise from .eh_frame FDEs, named from .dynsym where an
exported symbol starts at the FDE's pc_begin, and with GCC's start-up
functions, which the ELF headers point at (runtime.py). When .symtab names only some
functions (``strip -K`` on a linked file, ``strip -x`` on an object), FDEs
that no symbol covers are added as unnamed functions. Only executable
PROGBITS sections count as code, and PLT stubs and .init/.fini never do.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from binbridge.binary.eh_frame import FrameDescription, parse_eh_frame
from binbridge.binary.errors import BinaryFormatError
from binbridge.binary.elf import (
    SHT_PROGBITS,
    STB_GLOBAL,
    STB_WEAK,
    STT_FUNC,
    STT_GNU_IFUNC,
    ElfFile,
    Section,
    SymbolTable,
)
from binbridge.binary.relocatable import RelocatableSpace
from binbridge.binary.runtime import MAX_RUNTIME_SIZE, SOURCE_RUNTIME, code_end, runtime_names
from binbridge.binary.space import AddressSpace

logger = logging.getLogger(__name__)

NON_FUNCTION_SECTIONS = frozenset({".plt", ".plt.got", ".plt.sec", ".iplt", ".init", ".fini"})
_BINDING_RANK = {STB_GLOBAL: 0, STB_WEAK: 1}


@dataclass(frozen=True)
class NamedSymbol:
    """The name chosen among aliases at one address, and that symbol's size."""

    name: str
    size: int


@dataclass(frozen=True)
class FunctionBoundary:
    """One function's extent. start is its address in the space; address is the one reported to users."""

    name: str | None
    address: int
    start: int
    size: int
    section: Section
    source: str


def code_sections(elf: ElfFile) -> dict[int, Section]:
    return {
        section.index: section
        for section in elf.sections
        if section.type == SHT_PROGBITS and section.is_alloc and section.is_executable
        and section.name not in NON_FUNCTION_SECTIONS
    }


def alias_rank(name: str, binding: int) -> tuple[int, int, str]:
    """Sort key that picks one name among aliases at one address.

    Fewest leading underscores wins (``malloc`` over ``__libc_malloc``), then
    GLOBAL over WEAK over LOCAL binding, then the alphabetically first name.
    """
    return (len(name) - len(name.lstrip("_")), _BINDING_RANK.get(binding, 2), name)


def _function_symbols(table: SymbolTable, sections: dict[int, Section]) -> np.ndarray:
    """Return the indices of sized function symbols defined in the given sections."""
    entries = table.entries
    in_code = np.zeros(0x10000, dtype=bool)
    in_code[list(sections)] = True
    return np.flatnonzero(
        ((table.kind == STT_FUNC) | (table.kind == STT_GNU_IFUNC)) & (entries["size"] > 0) & in_code[entries["shndx"]]
    )


def has_function_symbols(elf: ElfFile) -> bool:
    """Return whether .symtab names at least one sized function in a code section."""
    return elf.symtab is not None and len(_function_symbols(elf.symtab, code_sections(elf))) > 0


def _named_symbols(table: SymbolTable, indices: np.ndarray) -> dict[tuple[int, int], NamedSymbol]:
    """Pick one symbol per (section index, value) among the given symbols, by alias_rank."""
    best_rank: dict[tuple[int, int], tuple[int, int, str]] = {}
    chosen: dict[tuple[int, int], NamedSymbol] = {}
    entries = table.entries
    for index in indices.tolist():
        name = table.name(index)
        key = (int(entries["shndx"][index]), int(entries["value"][index]))
        rank = alias_rank(name, int(table.binding[index]))
        if key not in best_rank or rank < best_rank[key]:
            best_rank[key] = rank
            chosen[key] = NamedSymbol(name, int(entries["size"][index]))
    return chosen


def discover_functions(elf: ElfFile, space: AddressSpace) -> list[FunctionBoundary]:
    """Return the functions of one ELF file in address order (section order, then offset, for objects)."""
    sections = code_sections(elf)
    if not sections:
        return []
    has_code = any(section.size > 0 for section in sections.values())
    if elf.is_relocatable and elf.symtab is None and not elf.rela_sections() and has_code:
        raise BinaryFormatError(elf.path, "is an object file stripped of its symbols and relocations, so its "
                                "functions cannot be located", "pass the object before stripping, or the linked binary")
    if elf.symtab is not None:
        indices = _function_symbols(elf.symtab, sections)
        if len(indices):
            functions = _from_symbols(elf, space, sections, indices)
            if elf.is_relocatable and _fde_count(elf) <= len(functions):
                # Every FDE can have a symbol, so parsing .eh_frame would add nothing.
                return functions
            return _with_uncovered(functions, _from_eh_frame(elf, space, sections, runtime=False))
    return _from_eh_frame(elf, space, sections)


def _fde_count(elf: ElfFile) -> int:
    """Return the relocation count of .rela.eh_frame, one per FDE in gcc and clang objects."""
    eh_frame = elf.section(".eh_frame")
    if eh_frame is None:
        return 0
    return sum(rela.size // 24 for rela in elf.rela_sections() if rela.info == eh_frame.index)


def _with_uncovered(named: list[FunctionBoundary], described: list[FunctionBoundary]) -> list[FunctionBoundary]:
    """Add to the symbol functions the FDE functions that start outside all of them."""
    named = sorted(named, key=lambda function: function.start)
    starts = [function.start for function in named]
    extra = []
    for function in described:
        position = bisect.bisect_right(starts, function.start) - 1
        if position >= 0 and function.start < named[position].start + max(named[position].size, 1):
            continue
        extra.append(function)
    if not extra:
        return named
    return sorted(named + extra, key=lambda function: function.start)


def _from_symbols(elf: ElfFile, space: AddressSpace, sections: dict[int, Section],
                  indices: np.ndarray) -> list[FunctionBoundary]:
    functions = []
    for (section_index, value), symbol in _named_symbols(elf.symtab, indices).items():
        section = sections[section_index]
        start = space.bases[section_index] + value if elf.is_relocatable else value
        functions.append(FunctionBoundary(symbol.name, value, start, symbol.size, section, "symtab"))
    functions.sort(key=lambda function: (function.section.index if elf.is_relocatable else 0, function.start))
    return functions


def _from_eh_frame(elf: ElfFile, space: AddressSpace, sections: dict[int, Section], *,
                   runtime: bool = True) -> list[FunctionBoundary]:
    """Return the functions that FDEs describe, named from .dynsym; with runtime, GCC's start-up functions too."""
    eh_frame = elf.section(".eh_frame")
    if eh_frame is None or eh_frame.size == 0:
        return []
    descriptions = parse_eh_frame(elf.section_data(eh_frame), space.bases.get(eh_frame.index, eh_frame.address),
                                  elf.path, eh_frame.offset)
    starts = [description.pc_begin for description in descriptions]
    if isinstance(space, RelocatableSpace):
        starts = _relocated_starts(elf, space, eh_frame, descriptions)
    extents: dict[int, int] = {}
    for start, description in zip(starts, descriptions):
        if start is not None and description.pc_range > 0:
            extents[start] = max(extents.get(start, 0), description.pc_range)

    exported = _exported_functions(elf, sections)
    functions = []
    for start, size in sorted(extents.items()):
        region = space.region(start)
        if region is None or region.section.index not in sections:
            continue
        if start + size > region.end:
            logger.debug("%s: FDE for %#x runs past the end of %s; clipping it", elf.path, start, region.section.name)
            size = region.end - start
        address = start - region.start if elf.is_relocatable else start
        symbol = exported.pop(start, None)
        if symbol is None:
            functions.append(FunctionBoundary(None, address, start, size, region.section, "eh_frame"))
        else:
            functions.append(FunctionBoundary(symbol.name, address, start, size, region.section, "dynsym"))

    # Exported functions without an FDE (hand-written assembly often has no CFI).
    covered_starts = [function.start for function in functions]
    for start, symbol in exported.items():
        region = space.region(start)
        if region is None or region.section.index not in sections:
            continue
        position = bisect.bisect_right(covered_starts, start) - 1
        if position >= 0 and start < functions[position].start + functions[position].size:
            continue
        size = min(symbol.size, region.end - start)
        functions.append(FunctionBoundary(symbol.name, start, start, size, region.section, "dynsym"))
    functions.sort(key=lambda function: function.start)
    if elf.is_relocatable or not runtime:
        return functions
    return _with_runtime(functions, runtime_names(elf, space, sections), space)


def _with_runtime(functions: list[FunctionBoundary], names: dict[int, str],
                  space: AddressSpace) -> list[FunctionBoundary]:
    """Name the start-up functions that discovery found unnamed, and add those without an FDE.

    An added function ends before the alignment padding that precedes the next
    function, the end of its section, or MAX_RUNTIME_SIZE bytes.
    """
    by_start = {function.start: function for function in functions}
    starts = sorted(set(by_start) | set(names))
    for start, name in names.items():
        existing = by_start.get(start)
        if existing is not None:
            if existing.name is None:
                by_start[start] = dataclasses.replace(existing, name=name, source=SOURCE_RUNTIME)
            continue
        region = space.region(start)
        following = starts[bisect.bisect_right(starts, start):][:1]
        end = code_end(space, start, min([region.end, start + MAX_RUNTIME_SIZE, *following]))
        by_start[start] = FunctionBoundary(name, start, start, end - start, region.section, SOURCE_RUNTIME)
    return [by_start[start] for start in sorted(by_start)]


def _exported_functions(elf: ElfFile, sections: dict[int, Section]) -> dict[int, NamedSymbol]:
    """Map the address of each sized, defined .dynsym function to its chosen name."""
    if elf.dynsym is None or elf.is_relocatable:
        return {}
    indices = _function_symbols(elf.dynsym, sections)
    return {value: named for (_, value), named in _named_symbols(elf.dynsym, indices).items()}


def _relocated_starts(elf: ElfFile, space: RelocatableSpace, eh_frame: Section,
                      descriptions: list[FrameDescription]) -> list[int | None]:
    """Resolve each FDE's pc_begin in an object through the relocations of .eh_frame."""
    targets: dict[int, int] = {}
    if len(space.symbol_addresses) == 0:
        return [None] * len(descriptions)
    for rela in elf.rela_sections():
        if rela.info != eh_frame.index:
            continue
        table = elf.relocations(rela)
        symbol_index = (table["info"] >> 32).astype(np.int64)
        valid = symbol_index < len(space.symbol_addresses)
        addresses = space.symbol_addresses[np.where(valid, symbol_index, 0)] + table["addend"]
        for offset, address, ok in zip(table["offset"].tolist(), addresses.tolist(), valid.tolist()):
            if ok:
                targets[offset] = address
    return [targets.get(description.pc_begin_offset) for description in descriptions]
