"""Address space of a relocatable object (.o), built by a small in-memory link.

Sections are placed at made-up addresses from LAYOUT_BASE, each undefined
symbol gets its own stretch of address space ("extern slot"), each symbol a
made-up GOT entry, and the relocations of executable sections are applied to
a copy of their bytes. After that, capstone prints a call to ``malloc`` as a
call to malloc's extern slot and a ``lea`` of a string as its address in
.rodata.str1.1, so objects go through the same normaliser as linked files.
"""

from __future__ import annotations

import logging

import numpy as np

from binbridge.binary.elf import (
    SHN_ABS,
    SHN_COMMON,
    SHN_LORESERVE,
    SHN_UNDEF,
    SHT_NOBITS,
    STB_WEAK,
    ElfFile,
    Section,
)
from binbridge.binary.errors import CorruptSectionError
from binbridge.binary.members import ArchiveSymbols
from binbridge.binary.space import INTERNAL, INTERNAL_CODE, AddressSpace, import_text, is_import, quote_string

logger = logging.getLogger(__name__)

LAYOUT_BASE = 0x400000
# Addresses must stay below 2**31 so that R_X86_64_32S values keep their sign.
LAYOUT_LIMIT = 0x7FFF0000
SECTION_ALIGNMENT = 16
GOT_ENTRY_SIZE = 8
MAX_EXTERN_SLOT = 0x10000

R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_GOTPCREL = 1, 2, 4, 9
R_X86_64_32, R_X86_64_32S, R_X86_64_PC64, R_X86_64_GOTPC32 = 10, 11, 24, 26
R_X86_64_TLSGD, R_X86_64_TLSLD, R_X86_64_GOTTPOFF = 19, 20, 22
R_X86_64_GOTPC32_TLSDESC, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX = 34, 41, 42

# Value formula group of each relocation type. Types left at 0 are not applied.
# NOTE: TLS offsets (R_X86_64_TPOFF32, R_X86_64_DTPOFF32) stay 0, while a linked
# executable shows the real negative fs: offset, so those operands differ.
PC_RELATIVE_32, PC_RELATIVE_64, GOT_RELATIVE_32, GOT_BASE_32, ABSOLUTE_32, ABSOLUTE_64 = range(1, 7)
RELOCATION_GROUPS = np.zeros(64, dtype=np.int8)
RELOCATION_GROUPS[[R_X86_64_PC32, R_X86_64_PLT32]] = PC_RELATIVE_32
RELOCATION_GROUPS[R_X86_64_PC64] = PC_RELATIVE_64
RELOCATION_GROUPS[[R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX, R_X86_64_TLSGD,
                   R_X86_64_TLSLD, R_X86_64_GOTTPOFF, R_X86_64_GOTPC32_TLSDESC]] = GOT_RELATIVE_32
RELOCATION_GROUPS[R_X86_64_GOTPC32] = GOT_BASE_32
RELOCATION_GROUPS[[R_X86_64_32, R_X86_64_32S]] = ABSOLUTE_32
RELOCATION_GROUPS[R_X86_64_64] = ABSOLUTE_64


# Symbols that ld itself defines in every output, so they are never imports.
LINKER_DEFINED_SYMBOLS = frozenset({
    "_GLOBAL_OFFSET_TABLE_", "_DYNAMIC", "__dso_handle", "__ehdr_start", "__executable_start",
    "_etext", "etext", "_edata", "edata", "_end", "end", "__bss_start", "_TLS_MODULE_BASE_",
    "__init_array_start", "__init_array_end", "__fini_array_start", "__fini_array_end",
    "__preinit_array_start", "__preinit_array_end", "__rela_iplt_start", "__rela_iplt_end",
    "__GNU_EH_FRAME_HDR",
})


def is_linker_defined(name: str) -> bool:
    """Return whether ld defines a symbol (fixed names and __start_/__stop_ section bounds)."""
    return name in LINKER_DEFINED_SYMBOLS or name.startswith(("__start_", "__stop_"))


class RelocatableSpace(AddressSpace):
    """Made-up addresses for one relocatable object, with its code relocations applied.

    archive_symbols describes what the enclosing archive defines. An undefined
    symbol defined there resolves like the linked symbol would print, and any
    other undefined symbol is an import.
    """

    absolute_mode = "sites"

    def __init__(self, elf: ElfFile, archive_symbols: ArchiveSymbols | None = None) -> None:
        bases: dict[int, int] = {}
        address = LAYOUT_BASE
        for section in elf.sections:
            if section.is_alloc:
                bases[section.index] = address
                address += (max(section.size, 1) + 2 * SECTION_ALIGNMENT - 1) // SECTION_ALIGNMENT * SECTION_ALIGNMENT
                if address > LAYOUT_LIMIT:
                    raise CorruptSectionError(
                        elf.path, f"allocated sections up to {section.name} add up to more than 2 GiB",
                        offset=section.offset,
                    )
        super().__init__(elf, bases)
        self.archive_symbols = archive_symbols or ArchiveSymbols()
        self.symbols = elf.symtab
        count = 0 if self.symbols is None else len(self.symbols)
        if address + (GOT_ENTRY_SIZE + SECTION_ALIGNMENT) * count > LAYOUT_LIMIT:
            raise CorruptSectionError(elf.path, f"symbol table of {count} entries is too large for one object")
        self.got_base = address
        self.got_end = address + GOT_ENTRY_SIZE * count
        self.extern_base = self.got_end + MAX_EXTERN_SLOT
        self.extern_slot = MAX_EXTERN_SLOT
        self.extern_end = self.extern_base
        self.symbol_addresses = np.zeros(count, dtype=np.int64)
        self._extern_by_slot: list[int] = []
        self._extern_texts: dict[int, str] = {}
        # Relocation tables not yet applied, by the index of the section they patch.
        self._pending: dict[int, list[tuple[Section, np.ndarray]]] = {}
        if self.symbols is not None:
            self._place_symbols()
            self._apply_relocations()

    def _place_symbols(self) -> None:
        entries = self.symbols.entries
        section_index = entries["shndx"].astype(np.int64)
        values = entries["value"].astype(np.int64)
        section_bases = np.zeros(len(self.elf.sections), dtype=np.int64)
        for index, base in self.bases.items():
            section_bases[index] = base
        defined = (section_index > SHN_UNDEF) & (section_index < min(SHN_LORESERVE, len(self.elf.sections)))
        absolute = section_index == SHN_ABS
        external = ~defined & ~absolute
        self._extern_by_slot = np.flatnonzero(external).tolist()
        while self.extern_slot > SECTION_ALIGNMENT and (
            self.extern_base + self.extern_slot * (len(self._extern_by_slot) + 1) > LAYOUT_LIMIT
        ):
            self.extern_slot //= 2
        self.extern_end = self.extern_base + self.extern_slot * len(self._extern_by_slot)
        # Each undefined symbol sits in the middle of its slot, so symbol+addend
        # for addends within half a slot still falls into that symbol's slot.
        self.symbol_addresses[external] = (
            self.extern_base + self.extern_slot * np.arange(len(self._extern_by_slot)) + self.extern_slot // 2
        )
        self.symbol_addresses[defined] = section_bases[section_index[defined]] + values[defined]
        self.symbol_addresses[absolute] = values[absolute]

    def _apply_relocations(self) -> None:
        """Relocate the code sections now and the other allocated sections when first read.

        Data is relocated too, so that jump tables read as in linked files. The
        normaliser never reads most objects' .eh_frame and .data, so those wait
        until section_bytes reads them. Every relocation table is read now,
        so that a damaged one raises from the constructor.
        """
        for rela in self.elf.rela_sections():
            if not 0 < rela.info < len(self.elf.sections):
                continue
            target = self.elf.sections[rela.info]
            if target.type == SHT_NOBITS or target.index not in self.bases:
                continue
            table = self.elf.relocations(rela)
            self._warn_past_symbol_table(rela, table)
            self._pending.setdefault(target.index, []).append((rela, table))
        sites = []
        for index in list(self._pending):
            target = self.elf.sections[index]
            if target.is_executable:
                sites.extend(self._relocate(target))
        if sites:
            self.absolute_sites = sorted(np.concatenate(sites).tolist())

    def section_bytes(self, section: Section) -> bytes:
        if section.index in self._pending:
            self._relocate(section)
        return super().section_bytes(section)

    def _relocate(self, target: Section) -> list[np.ndarray]:
        """Apply the pending relocation tables of one section and return the addresses of its absolute fields."""
        contents = np.frombuffer(bytearray(super().section_bytes(target)), dtype=np.uint8)
        sites = [self._apply(table, target, contents) for _, table in self._pending.pop(target.index)]
        self._data[target.index] = contents.tobytes()
        return sites

    def _warn_past_symbol_table(self, rela: Section, table: np.ndarray) -> None:
        skipped = int(np.count_nonzero((table["info"] >> 32) >= len(self.symbol_addresses)))
        if skipped:
            logger.warning("%s: %d relocations in %s name symbols past the end of the symbol table",
                           self.elf.path, skipped, rela.name)

    def _apply(self, table: np.ndarray, target: Section, contents: np.ndarray) -> np.ndarray:
        """Write relocation values into a section's contents; return the addresses of absolute fields."""
        kinds = (table["info"] & 0xFFFFFFFF).astype(np.int64)
        symbol_index = (table["info"] >> 32).astype(np.int64)
        valid = symbol_index < len(self.symbol_addresses)
        offsets = table["offset"].astype(np.int64)
        if target.is_executable:
            self._relax_got_loads(kinds, symbol_index, valid, offsets, contents)
        group = np.where(valid & (kinds < len(RELOCATION_GROUPS)), RELOCATION_GROUPS[np.minimum(kinds, 63)], 0)
        place = self.bases[target.index] + offsets

        # Only rows with a known formula and a symbol in the table are written, so
        # values are computed for those rows alone.
        rows = np.flatnonzero(group)
        group, place, symbol_index = group[rows], place[rows], symbol_index[rows]
        addend = table["addend"][rows]
        values = self.symbol_addresses[symbol_index] + addend
        relative = (group == PC_RELATIVE_32) | (group == PC_RELATIVE_64)
        values[relative] -= place[relative]
        got = group == GOT_RELATIVE_32
        values[got] = self.got_base + GOT_ENTRY_SIZE * symbol_index[got] + addend[got] - place[got]
        got_base = group == GOT_BASE_32
        values[got_base] = self.got_base + addend[got_base] - place[got_base]

        wide = (group == PC_RELATIVE_64) | (group == ABSOLUTE_64)
        field_offsets = offsets[rows]
        in_bounds = (field_offsets >= 0) & (field_offsets + np.where(wide, 8, 4) <= len(contents))
        field_bytes = values.astype("<i8").view(np.uint8).reshape(-1, 8)
        for size, sized in ((4, ~wide), (8, wide)):
            written = in_bounds & sized
            if written.any():
                contents[field_offsets[written][:, None] + np.arange(size)] = field_bytes[written, :size]
        return place[(group == ABSOLUTE_32) | (group == ABSOLUTE_64)]

    def _relax_got_loads(self, kinds: np.ndarray, symbol_index: np.ndarray, valid: np.ndarray,
                         offsets: np.ndarray, contents: np.ndarray) -> None:
        """Rewrite GOT loads of link-time-defined symbols as ld does for PIE output, updating kinds and offsets.

        ld turns ``mov reg, [rip + sym@GOTPCREL]`` into ``lea reg, [rip + sym]``,
        ``call [rip + sym@GOTPCREL]`` into ``addr32 call sym`` and the same jmp
        into ``jmp sym; nop`` when sym is defined in the output, so archive
        members then read like the linked code built from them.

        NOTE: a non-PIE static link rewrites the same loads into ``mov reg, imm32``
        instead, so such executables show ``mov reg, ADDR`` where objects show ``lea``.
        """
        candidates = np.flatnonzero(
            ((kinds == R_X86_64_GOTPCRELX) | (kinds == R_X86_64_REX_GOTPCRELX)) & valid
            & (offsets >= 2) & (offsets + 4 <= len(contents))
        )
        for row in candidates.tolist():
            if not self._defined_at_link_time(int(symbol_index[row])):
                continue
            offset = int(offsets[row])
            opcode, modrm = int(contents[offset - 2]), int(contents[offset - 1])
            if opcode == 0x8B and modrm & 0xC7 == 0x05:
                contents[offset - 2] = 0x8D
            elif opcode == 0xFF and modrm == 0x15:
                contents[offset - 2:offset] = (0x67, 0xE8)
            elif opcode == 0xFF and modrm == 0x25:
                # The rel32 field moves one byte left; with the original addend
                # of -4 its value is still relative to the end of the jmp.
                contents[offset - 2] = 0xE9
                contents[offset + 3] = 0x90
                offsets[row] = offset - 1
            else:
                continue
            kinds[row] = R_X86_64_PC32

    def _defined_at_link_time(self, symbol_index: int) -> bool:
        section_index = int(self.symbols.entries["shndx"][symbol_index])
        if section_index != SHN_UNDEF:
            return True
        if int(self.symbols.binding[symbol_index]) == STB_WEAK:
            return is_linker_defined(self.symbols.name(symbol_index))
        return not is_import(self.resolve(int(self.symbol_addresses[symbol_index])))

    def resolve(self, address: int) -> int | str:
        if self.extern_base <= address < self.extern_end:
            return self._extern_text((address - self.extern_base) // self.extern_slot)
        if self.got_base <= address < self.got_end:
            symbol_index = (address - self.got_base) // GOT_ENTRY_SIZE
            target = int(self.symbol_addresses[symbol_index])
            if self.extern_base <= target < self.extern_end:
                return self._extern_text((target - self.extern_base) // self.extern_slot)
            return target
        return address

    def _extern_text(self, slot: int) -> str:
        text = self._extern_texts.get(slot)
        if text is None:
            text = self._classify_undefined(self._extern_by_slot[slot])
            self._extern_texts[slot] = text
        return text

    def _classify_undefined(self, symbol_index: int) -> str:
        name = self.symbols.name(symbol_index)
        if not name or int(self.symbols.entries["shndx"][symbol_index]) == SHN_COMMON or is_linker_defined(name):
            return INTERNAL
        archive = self.archive_symbols
        bare = name.split("@", 1)[0]
        if name not in archive.defined and bare not in archive.defined:
            return import_text(name)
        if bare in archive.functions or name in archive.functions:
            return INTERNAL_CODE
        if bare in archive.strings:
            return quote_string(archive.strings[bare])
        return INTERNAL
