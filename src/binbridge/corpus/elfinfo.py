"""ELF facts that the corpus builder needs beyond function extraction.

GNU build ids match stripped files to their detached debug files, DT_NEEDED
entries give the link dependencies of a static library's shared twin, and
the symbol table of a debug file names the functions of the stripped file.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from binbridge.binary.archive import Archive
from binbridge.binary.discovery import alias_rank
from binbridge.binary.elf import (
    ELF_MAGIC,
    SHN_LORESERVE,
    SHN_UNDEF,
    SHT_DYNAMIC,
    STT_FUNC,
    STT_GNU_IFUNC,
    ElfFile,
)
from binbridge.binary.errors import BinaryFormatError
from binbridge.binary.inputs import read_input

SHT_NOTE = 7
NT_GNU_BUILD_ID = 3
DT_NEEDED = 1
R_X86_64_PC32, R_X86_64_PLT32 = 2, 4
# Libraries that gcc adds to every link itself.
IMPLICIT_LIBRARIES = frozenset({"libc.so.6", "ld-linux-x86-64.so.2", "libgcc_s.so.1"})


def is_elf_file(path: Path) -> bool:
    """Return whether path is a regular file (not a symlink) that starts with the ELF magic."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def open_elf(path: str | os.PathLike[str]) -> ElfFile:
    """Open an x86-64 ELF file, raising the binbridge.binary errors for anything else."""
    return ElfFile(read_input(path), os.fspath(path))


def build_id(elf: ElfFile) -> str | None:
    """Return the NT_GNU_BUILD_ID note as lowercase hex, or None when the file has none."""
    for section in elf.sections:
        if section.type != SHT_NOTE:
            continue
        data = elf.section_data(section)
        position = 0
        while position + 12 <= len(data):
            name_size, desc_size, note_type = struct.unpack_from("<III", data, position)
            name_start = position + 12
            desc_start = name_start + _align4(name_size)
            name = data[name_start:name_start + name_size].rstrip(b"\0")
            if note_type == NT_GNU_BUILD_ID and name == b"GNU":
                return data[desc_start:desc_start + desc_size].hex()
            position = desc_start + _align4(desc_size)
    return None


def _align4(size: int) -> int:
    return (size + 3) & ~3


def needed_libraries(elf: ElfFile) -> list[str]:
    """Return the DT_NEEDED sonames of a shared object in order."""
    dynamic = next((section for section in elf.sections if section.type == SHT_DYNAMIC), None)
    if dynamic is None or dynamic.size % 16 or not 0 < dynamic.link < len(elf.sections):
        return []
    strings = elf.section_data(elf.sections[dynamic.link])
    entries = np.frombuffer(elf.section_data(dynamic), dtype="<i8").reshape(-1, 2)
    names = []
    for offset in entries[entries[:, 0] == DT_NEEDED, 1].tolist():
        end = strings.find(b"\0", offset)
        names.append(strings[offset:end if end >= 0 else None].decode("utf-8", "replace"))
    return names


def function_names_by_address(elf: ElfFile) -> dict[int, str]:
    """Map the address of every sized function symbol in .symtab to one name, chosen by alias_rank.

    Works on detached debug files too, whose code sections are NOBITS.
    """
    table = elf.symtab
    if table is None:
        return {}
    entries = table.entries
    mask = (np.isin(table.kind, (STT_FUNC, STT_GNU_IFUNC)) & (entries["size"] > 0)
            & (entries["shndx"] != SHN_UNDEF) & (entries["shndx"] < SHN_LORESERVE))
    best: dict[int, tuple[tuple[int, int, str], str]] = {}
    for index in np.flatnonzero(mask).tolist():
        name = table.name(index)
        if not name:
            continue
        address = int(entries["value"][index])
        rank = alias_rank(name, int(table.binding[index]))
        if address not in best or rank < best[address][0]:
            best[address] = (rank, name)
    return {address: name for address, (_, name) in best.items()}


def data_references(archive_path: str | os.PathLike[str]) -> set[str]:
    """Return the undefined symbols that archive members reference like data and never call.

    Position-independent executable code reaches external data with a
    R_X86_64_PC32 relocation (resolved through a copy relocation), but calls
    external functions with R_X86_64_PLT32.
    """
    archive = Archive(read_input(archive_path), os.fspath(archive_path))
    pc32: set[str] = set()
    called: set[str] = set()
    for member in archive.members():
        if bytes(member.data[:4]) != ELF_MAGIC:
            continue
        try:
            elf = ElfFile(member.data, f"{archive_path}:{member.name}")
            table = elf.symtab
            if table is None:
                continue
            for section in elf.rela_sections():
                relocations = elf.relocations(section)
                types = (relocations["info"] & 0xFFFFFFFF).astype(np.int64)
                symbols = (relocations["info"] >> 32).astype(np.int64)
                for kind, index in zip(types.tolist(), symbols.tolist()):
                    if kind not in (R_X86_64_PC32, R_X86_64_PLT32) or not 0 < index < len(table):
                        continue
                    if int(table.entries["shndx"][index]) != SHN_UNDEF:
                        continue
                    (pc32 if kind == R_X86_64_PC32 else called).add(table.name(index))
        except BinaryFormatError:
            continue
    return pc32 - called
