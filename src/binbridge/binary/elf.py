"""Minimal ELF64 little-endian reader built on struct and numpy.

Only what function extraction needs is parsed: the file header, section
headers, symbol tables and RELA relocation tables. Symbols and relocations are
read as numpy structured arrays, which is much faster than building one Python
object per entry on archives with millions of relocations.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from binbridge.binary.errors import (
    BinaryFormatError,
    CorruptSectionError,
    NotELFError,
    TruncatedFileError,
    UnsupportedArchitectureError,
)

ELF_MAGIC = b"\x7fELF"
EM_X86_64 = 62

ET_REL, ET_EXEC, ET_DYN = 1, 2, 3

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA = 1, 2, 3, 4
SHT_DYNAMIC, SHT_NOBITS, SHT_DYNSYM = 6, 8, 11

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, SHF_STRINGS, SHF_TLS = 0x1, 0x2, 0x4, 0x20, 0x400

SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON, SHN_XINDEX = 0, 0xFF00, 0xFFF1, 0xFFF2, 0xFFFF

STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_OBJECT, STT_FUNC, STT_SECTION, STT_GNU_IFUNC = 1, 2, 3, 10

PT_INTERP = 3
DT_FLAGS_1, DF_1_PIE = 0x6FFFFFFB, 0x08000000
DT_SONAME = 14

SYMBOL_DTYPE = np.dtype(
    [("name", "<u4"), ("info", "u1"), ("other", "u1"), ("shndx", "<u2"), ("value", "<u8"), ("size", "<u8")]
)
RELA_DTYPE = np.dtype([("offset", "<u8"), ("info", "<u8"), ("addend", "<i8")])

MACHINE_NAMES = {
    2: "SPARC",
    3: "Intel 80386 (i386)",
    4: "Motorola 68000",
    8: "MIPS",
    10: "MIPS (little-endian, old)",
    15: "PA-RISC",
    18: "SPARC32PLUS",
    20: "PowerPC",
    21: "PowerPC64",
    22: "IBM S/390",
    40: "ARM (32-bit)",
    42: "SuperH",
    43: "SPARC V9",
    50: "IA-64",
    62: "x86-64",
    83: "AVR",
    94: "Xtensa",
    164: "Hexagon",
    183: "AArch64",
    190: "NVIDIA CUDA",
    224: "AMD GPU",
    243: "RISC-V",
    247: "BPF",
    258: "LoongArch",
}

_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION_HEADER = struct.Struct("<IIQQQQIIQQ")
_PROGRAM_HEADER = struct.Struct("<IIQQQQQQ")


def machine_name(machine: int) -> str:
    """Return a readable name for an ELF e_machine value."""
    return MACHINE_NAMES.get(machine, f"e_machine {machine}")


@dataclass(frozen=True)
class Section:
    """One section header, with its name resolved."""

    index: int
    name: str
    type: int
    flags: int
    address: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int

    @property
    def is_alloc(self) -> bool:
        return bool(self.flags & SHF_ALLOC)

    @property
    def is_executable(self) -> bool:
        return bool(self.flags & SHF_EXECINSTR)

    @property
    def is_writable(self) -> bool:
        return bool(self.flags & SHF_WRITE)


class SymbolTable:
    """A .symtab or .dynsym as a numpy array plus its string table."""

    def __init__(self, entries: np.ndarray, strings: bytes) -> None:
        self.entries = entries
        self.strings = strings
        self.binding = entries["info"] >> 4
        self.kind = entries["info"] & 0xF

    def __len__(self) -> int:
        return len(self.entries)

    def name(self, index: int) -> str:
        start = int(self.entries["name"][index])
        if start >= len(self.strings):
            return ""
        end = self.strings.find(b"\0", start)
        if end < 0:
            end = len(self.strings)
        return self.strings[start:end].decode("utf-8", "replace")


class ElfFile:
    """An x86-64 ELF64 file held in memory (bytes, mmap or memoryview).

    Raises NotELFError, TruncatedFileError, UnsupportedArchitectureError or
    CorruptSectionError from the constructor when the headers are unusable.
    Section contents are checked only when read.
    """

    def __init__(self, data: bytes | memoryview, path: str) -> None:
        self.data = data
        self.path = path
        self._parse_header()
        self.sections = self._parse_sections()
        self._by_name = {}
        for section in self.sections:
            self._by_name.setdefault(section.name, section)
        self._symbol_tables: dict[int, SymbolTable] = {}

    def _parse_header(self) -> None:
        data = self.data
        if len(data) < 4 or bytes(data[:4]) != ELF_MAGIC:
            raise NotELFError(self.path, "not an ELF file (missing \\x7fELF magic)", offset=0)
        if len(data) < 20:
            raise TruncatedFileError(self.path, f"ELF header cut short after {len(data)} bytes", offset=0)
        byte_order = "<" if data[5] == 1 else ">"
        machine = struct.unpack_from(byte_order + "H", data, 18)[0]
        if machine != EM_X86_64:
            raise UnsupportedArchitectureError(
                self.path,
                f"ELF machine is {machine_name(machine)}, but only x86-64 is supported",
                "pass an x86-64 binary",
                offset=18,
            )
        if data[4] != 2 or data[5] != 1:
            raise UnsupportedArchitectureError(
                self.path,
                f"ELF class {data[4]} / data encoding {data[5]} is not 64-bit little-endian; "
                "x32 and other 32-bit x86-64 files are not supported",
                "pass a 64-bit x86-64 binary",
                offset=4,
            )
        if len(data) < _HEADER.size:
            raise TruncatedFileError(self.path, f"ELF header cut short after {len(data)} bytes", offset=0)
        fields = _HEADER.unpack_from(data, 0)
        (_, self.elf_type, _, _, self.entry, self.phoff, self.shoff, _, _,
         self.phentsize, self.phnum, self.shentsize, self.shnum, self.shstrndx) = fields

    def _parse_sections(self) -> list[Section]:
        data, path = self.data, self.path
        if self.shoff == 0:
            raise BinaryFormatError(
                path, "ELF file has no section header table", "pass a file that still has section headers"
            )
        if self.shentsize != _SECTION_HEADER.size:
            raise CorruptSectionError(path, f"section header size is {self.shentsize}, expected 64", offset=58)
        if self.shoff + _SECTION_HEADER.size > len(data):
            raise TruncatedFileError(
                path, f"section header table starts past the end of the file ({len(data)} bytes)", offset=self.shoff
            )

        # With more than 0xff00 sections, e_shnum is 0 and e_shstrndx is SHN_XINDEX,
        # and the real values are in sh_size and sh_link of section 0.
        count, names_index = self.shnum, self.shstrndx
        first = _SECTION_HEADER.unpack_from(data, self.shoff)
        if count == 0:
            count = first[5]
        if names_index == SHN_XINDEX:
            names_index = first[6]
        end = self.shoff + count * _SECTION_HEADER.size
        if end > len(data):
            raise TruncatedFileError(
                path,
                f"section header table of {count} entries ends at {end:#x}, past the end of the file "
                f"({len(data):#x} bytes)",
                offset=self.shoff,
            )

        raw = [_SECTION_HEADER.unpack_from(data, self.shoff + i * _SECTION_HEADER.size) for i in range(count)]
        if not 0 <= names_index < count:
            raise CorruptSectionError(path, f"section name table index {names_index} is out of range", offset=62)
        names_header = raw[names_index]
        names = self._checked_slice(names_header[4], names_header[5], "section name table")

        sections = []
        for index, (name, type_, flags, address, offset, size, link, info, _, entsize) in enumerate(raw):
            end_name = names.find(b"\0", name)
            label = names[name:end_name if end_name >= 0 else None].decode("utf-8", "replace")
            sections.append(Section(index, label, type_, flags, address, offset, size, link, info, entsize))
        return sections

    def _checked_slice(self, offset: int, size: int, description: str) -> bytes:
        if offset + size > len(self.data):
            raise TruncatedFileError(
                self.path,
                f"{description} ends at {offset + size:#x}, past the end of the file ({len(self.data):#x} bytes)",
                offset=offset,
            )
        return bytes(self.data[offset:offset + size])

    @property
    def is_relocatable(self) -> bool:
        return self.elf_type == ET_REL

    @cached_property
    def kind(self) -> str:
        """Return "executable", "shared_object" or "relocatable"."""
        if self.elf_type == ET_REL:
            return "relocatable"
        if self.elf_type == ET_EXEC or self._has_interpreter() or self._has_pie_flag():
            return "executable"
        return "shared_object"

    def _has_interpreter(self) -> bool:
        if self.phentsize != _PROGRAM_HEADER.size or self.phoff + self.phnum * self.phentsize > len(self.data):
            return self.section(".interp") is not None
        for i in range(self.phnum):
            if _PROGRAM_HEADER.unpack_from(self.data, self.phoff + i * self.phentsize)[0] == PT_INTERP:
                return True
        return False

    def _has_pie_flag(self) -> bool:
        dynamic = next((s for s in self.sections if s.type == SHT_DYNAMIC), None)
        if dynamic is None or dynamic.size % 16:
            return False
        entries = np.frombuffer(self.section_data(dynamic), dtype="<i8").reshape(-1, 2)
        flags = entries[entries[:, 0] == DT_FLAGS_1, 1]
        return bool(len(flags) and int(flags[0]) & DF_1_PIE)

    @cached_property
    def soname(self) -> str:
        """The shared object's DT_SONAME (``libpcap.so.0.8``), or "" when it has none or it is unreadable."""
        dynamic = next((s for s in self.sections if s.type == SHT_DYNAMIC), None)
        if dynamic is None or dynamic.size % 16 or not 0 < dynamic.link < len(self.sections):
            return ""
        entries = np.frombuffer(self.section_data(dynamic), dtype="<i8").reshape(-1, 2)
        offsets = entries[entries[:, 0] == DT_SONAME, 1]
        strings = self.section_data(self.sections[dynamic.link])
        if not len(offsets) or not 0 <= int(offsets[0]) < len(strings):
            return ""
        start = int(offsets[0])
        end = strings.find(b"\0", start)
        return strings[start:end if end >= 0 else len(strings)].decode("utf-8", "replace")

    def section(self, name: str) -> Section | None:
        return self._by_name.get(name)

    def section_data(self, section: Section) -> bytes:
        if section.type == SHT_NOBITS:
            return b""
        return self._checked_slice(section.offset, section.size, f"section {section.name}")

    def symbol_table(self, section: Section) -> SymbolTable:
        cached = self._symbol_tables.get(section.index)
        if cached is not None:
            return cached
        if section.entsize != SYMBOL_DTYPE.itemsize or section.size % SYMBOL_DTYPE.itemsize:
            raise CorruptSectionError(
                self.path,
                f"symbol table {section.name} has entry size {section.entsize} and size {section.size}; "
                "expected a multiple of 24",
                offset=section.offset,
            )
        entries = np.frombuffer(self.section_data(section), dtype=SYMBOL_DTYPE)
        strings = b""
        if 0 < section.link < len(self.sections):
            strings = self.section_data(self.sections[section.link])
        table = SymbolTable(entries, strings)
        self._symbol_tables[section.index] = table
        return table

    @cached_property
    def symtab(self) -> SymbolTable | None:
        section = next((s for s in self.sections if s.type == SHT_SYMTAB), None)
        return None if section is None else self.symbol_table(section)

    @cached_property
    def dynsym(self) -> SymbolTable | None:
        section = next((s for s in self.sections if s.type == SHT_DYNSYM), None)
        return None if section is None else self.symbol_table(section)

    def relocations(self, section: Section) -> np.ndarray:
        """Return a RELA section as an array with fields offset, info and addend."""
        if section.entsize not in (0, RELA_DTYPE.itemsize) or section.size % RELA_DTYPE.itemsize:
            raise CorruptSectionError(
                self.path,
                f"relocation section {section.name} size {section.size} is not a multiple of 24",
                offset=section.offset,
            )
        return np.frombuffer(self.section_data(section), dtype=RELA_DTYPE)

    def rela_sections(self) -> list[Section]:
        return [s for s in self.sections if s.type == SHT_RELA]
