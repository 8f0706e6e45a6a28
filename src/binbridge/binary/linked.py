"""Address space of a linked executable or shared object, at its own virtual addresses.

Calls to imports go through PLT stubs, each a ``jmp qword ptr [rip + X]``
through a GOT slot. The dynamic relocation at that slot (JUMP_SLOT in
.rela.plt, GLOB_DAT in .rela.dyn) names the symbol, so a call to a stub or a
load from a slot prints as ``<name>``. A COPY relocation names an imported
data object that the executable keeps a copy of, such as ``stderr``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import capstone
import numpy as np

from binbridge.binary.elf import ET_EXEC, SHN_UNDEF, SHT_NOBITS, ElfFile, SymbolTable
from binbridge.binary.space import AddressSpace, import_text

R_X86_64_64, R_X86_64_COPY, R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT = 1, 5, 6, 7
R_X86_64_RELATIVE, R_X86_64_DTPMOD64, R_X86_64_DTPOFF64, R_X86_64_TPOFF64 = 8, 16, 17, 18
R_X86_64_IRELATIVE = 37

PLT_SECTIONS = (".plt", ".plt.sec", ".plt.got", ".iplt")
GOT_SECTIONS = (".got", ".got.plt")

_RIP_JUMP = re.compile(r"^qword ptr \[rip(?: ([+-]) (0x[0-9a-f]+|\d+))?\]$")


@dataclass
class PltSection:
    """One PLT section split into fixed-size entries, with the GOT slot that each entry jumps through."""

    start: int
    end: int
    entry_size: int
    slots: dict[int, int] = field(default_factory=dict)

    def slot_of(self, address: int) -> int | None:
        return self.slots.get(self.start + (address - self.start) // self.entry_size * self.entry_size)


class LinkedSpace(AddressSpace):
    """The address space of an executable or shared object, at its own virtual addresses."""

    def __init__(self, elf: ElfFile) -> None:
        super().__init__(elf, {s.index: s.address for s in elf.sections if s.is_alloc})
        if elf.elf_type == ET_EXEC:
            self.absolute_mode = "all"
        self._load_dynamic_relocations()
        self._got_sections = [s for s in elf.sections if s.name in GOT_SECTIONS]
        self._plt_sections = self._map_plt_entries()
        self._resolved: dict[int, int | str] = {}

    def _load_dynamic_relocations(self) -> None:
        self._symbol_tables: list[SymbolTable] = []
        offsets, infos, addends, tables = [], [], [], []
        for section in self.elf.rela_sections():
            if not section.is_alloc:
                continue
            table = self.elf.relocations(section)
            table_index = -1
            if 0 < section.link < len(self.elf.sections):
                self._symbol_tables.append(self.elf.symbol_table(self.elf.sections[section.link]))
                table_index = len(self._symbol_tables) - 1
            offsets.append(table["offset"])
            infos.append(table["info"])
            addends.append(table["addend"])
            tables.append(np.full(len(table), table_index, dtype=np.int32))
        if offsets:
            merged = np.concatenate(offsets)
            order = np.argsort(merged, kind="stable")
            self._reloc_offsets = merged[order]
            self._reloc_infos = np.concatenate(infos)[order]
            self._reloc_addends = np.concatenate(addends)[order]
            self._reloc_tables = np.concatenate(tables)[order]
        else:
            self._reloc_offsets = np.zeros(0, dtype=np.uint64)

    def _dynamic_relocation(self, address: int, dereference: bool) -> int | str | None:
        """Return what a dynamic relocation at an address binds it to, or None.

        A COPY relocation always names an imported data object. Other kinds
        are followed only when dereference is set, because a RELATIVE entry
        in a pointer table is data, while one in the GOT stands for its target.
        """
        offsets = self._reloc_offsets
        position = int(np.searchsorted(offsets, address))
        if position >= len(offsets) or int(offsets[position]) != address:
            return None
        info = int(self._reloc_infos[position])
        kind, symbol_index = info & 0xFFFFFFFF, info >> 32
        addend = int(self._reloc_addends[position])
        if kind == R_X86_64_COPY:
            return self._symbol_target(position, symbol_index, 0, always_import=True)
        if not dereference:
            return None
        if kind in (R_X86_64_RELATIVE, R_X86_64_IRELATIVE):
            return addend
        if kind in (R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT, R_X86_64_64,
                    R_X86_64_TPOFF64, R_X86_64_DTPMOD64, R_X86_64_DTPOFF64):
            return self._symbol_target(position, symbol_index, addend if kind == R_X86_64_64 else 0)
        return None

    def pointer_words(self, section) -> tuple[np.ndarray, dict[int, int | str]]:
        """Return a data section's 8-byte words as the loader leaves them, and the symbolic ones.

        The array contains each aligned word from the file, with the addend of a RELATIVE relocation in
        place of the word where there is one. The dict maps the address of a word that a symbol
        relocation sets to its target: an address, or ``<name>`` for an import.
        """
        data = self.section_bytes(section)
        start = section.address
        words = np.frombuffer(data[: len(data) // 8 * 8], dtype="<u8").copy() if start % 8 == 0 else np.zeros(0, "<u8")
        symbolic: dict[int, int | str] = {}
        offsets = self._reloc_offsets
        first, last = np.searchsorted(offsets, [start, start + len(words) * 8])
        for position in range(int(first), int(last)):
            address = int(offsets[position])
            if address % 8:
                continue
            info = int(self._reloc_infos[position])
            kind, symbol_index = info & 0xFFFFFFFF, info >> 32
            addend = int(self._reloc_addends[position])
            if kind == R_X86_64_RELATIVE:
                words[(address - start) // 8] = addend & 0xFFFFFFFFFFFFFFFF
            elif kind == R_X86_64_64:
                target = self._symbol_target(position, symbol_index, addend)
                if target is not None:
                    symbolic[address] = target
        return words, symbolic

    def _symbol_target(self, position: int, symbol_index: int, addend: int,
                       always_import: bool = False) -> int | str | None:
        table_index = int(self._reloc_tables[position])
        if table_index < 0 or symbol_index == 0:
            return None
        symbols = self._symbol_tables[table_index]
        if symbol_index >= len(symbols):
            return None
        name = symbols.name(symbol_index)
        if always_import or int(symbols.entries["shndx"][symbol_index]) == SHN_UNDEF:
            return import_text(name) if name else None
        return int(symbols.entries["value"][symbol_index]) + addend

    def _map_plt_entries(self) -> list[PltSection]:
        """Find the GOT slot that each PLT entry's ``jmp qword ptr [rip + X]`` reads."""
        disassembler = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        tables = []
        for section in self.elf.sections:
            if section.name not in PLT_SECTIONS or not section.is_executable or section.type == SHT_NOBITS:
                continue
            entry_size = section.entsize if section.entsize in (8, 16) else 16
            table = PltSection(section.address, section.address + section.size, entry_size)
            tables.append(table)
            for address, size, mnemonic, operands in disassembler.disasm_lite(
                self.section_bytes(section), section.address
            ):
                match = _RIP_JUMP.match(operands)
                if match is None or not mnemonic.endswith("jmp"):
                    continue
                displacement = int(match.group(2) or "0", 0)
                if match.group(1) == "-":
                    displacement = -displacement
                entry = section.address + (address - section.address) // entry_size * entry_size
                table.slots.setdefault(entry, address + size + displacement)
        return tables

    def resolve(self, address: int) -> int | str:
        cached = self._resolved.get(address)
        if cached is not None:
            return cached
        result: int | str = address
        in_got = any(s.address <= address < s.address + s.size for s in self._got_sections)
        target = self._dynamic_relocation(address, dereference=in_got)
        if target is not None:
            result = target
        else:
            table = next((t for t in self._plt_sections if t.start <= address < t.end), None)
            slot = None if table is None else table.slot_of(address)
            if slot is not None:
                through_slot = self._dynamic_relocation(slot, dereference=True)
                if through_slot is not None:
                    result = through_slot
        self._resolved[address] = result
        return result
