"""The x86-64 ELF members of an archive, and the global symbols that they define."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from binbridge.binary.archive import Archive, ArchiveMember
from binbridge.binary.elf import SHN_LORESERVE, SHN_UNDEF, SHT_NOBITS, STB_LOCAL, STT_FUNC, STT_GNU_IFUNC, STT_OBJECT
from binbridge.binary.elf import ELF_MAGIC, ElfFile
from binbridge.binary.errors import BinaryFormatError, UnsupportedArchitectureError
from binbridge.binary.space import read_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveSymbols:
    """Global symbols defined by the members of one archive.

    An object refers to them as undefined symbols. Functions print as
    ``FUNC`` and read-only string objects as their text, as they would after
    linking, and other data prints as ``DATA``.
    """

    defined: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    strings: dict[str, str] = field(default_factory=dict)


def archive_elves(archive: Archive, warn: bool = True) -> Iterator[ElfFile]:
    """Yield the x86-64 ELF members of an archive, logging a warning for each member skipped when ``warn`` is set."""
    return member_elves((parse_member(name, member) for name, member in named_members(archive)), warn)


def named_members(archive: Archive) -> Iterator[tuple[str, ArchiveMember]]:
    """Yield each member in file order with the name that paths and messages use: ``lib.a:member.o``."""
    seen: dict[str, int] = {}
    for member in archive.members():
        # ar allows two members with one name (ar q); the second is called name#2, and so on.
        seen[member.name] = seen.get(member.name, 0) + 1
        copy = seen[member.name]
        yield f"{archive.path}:{member.name}" + (f"#{copy}" if copy > 1 else ""), member


def member_file(binary: str) -> str:
    """Return the file that a ``binary`` value names: the archive of ``lib.a:member.o``, else the value itself."""
    return binary.split(".a:", 1)[0] + ".a" if ".a:" in binary else binary


def member_elves(parsed_members: Iterable[ElfFile | str], warn: bool = True) -> Iterator[ElfFile]:
    """Yield the ELF files among parse_member's results, logging the other results as warnings when ``warn`` is set."""
    for parsed in parsed_members:
        if isinstance(parsed, ElfFile):
            yield parsed
        elif warn:
            logger.warning("%s", parsed)


def parse_member(name: str, member: ArchiveMember) -> ElfFile | str:
    """Return a member as an ElfFile, or the warning that explains why it is skipped."""
    if bytes(member.data[:4]) != ELF_MAGIC:
        return f"{name}: skipping archive member that is not an ELF file"
    try:
        return ElfFile(member.data, name)
    except BinaryFormatError as error:
        return f"skipping archive member: {error}"


def require_x86_64_member(archive: Archive) -> None:
    """Raise a BinaryFormatError naming the archive when none of its members is an x86-64 ELF file."""
    foreign: UnsupportedArchitectureError | None = None
    for member in archive.members():
        if bytes(member.data[:4]) != ELF_MAGIC:
            continue
        try:
            ElfFile(member.data, f"{archive.path}:{member.name}")
            return
        except UnsupportedArchitectureError as error:
            foreign = foreign or error
        except BinaryFormatError:
            continue
    if foreign is not None:
        member_name = foreign.path.rsplit(":", 1)[-1]
        raise UnsupportedArchitectureError(archive.path,
                                           f"has no x86-64 member (member {member_name}: {foreign.detail})",
                                           "pass an archive of x86-64 objects")
    raise BinaryFormatError(archive.path, "contains no ELF object file", "pass an archive of x86-64 objects")


def scan_archive_symbols(elves: Iterable[ElfFile]) -> ArchiveSymbols:
    """Read the symbol table of every member of an archive for the global symbols that the archive defines."""
    defined: set[str] = set()
    functions: set[str] = set()
    strings: dict[str, str] = {}
    for elf in elves:
        try:
            table = elf.symtab
            if table is None:
                continue
            section_index = table.entries["shndx"]
            is_global = (section_index != SHN_UNDEF) & (table.binding != STB_LOCAL)
            for index in np.flatnonzero(is_global).tolist():
                name = table.name(index)
                defined.add(name)
                kind = int(table.kind[index])
                if kind in (STT_FUNC, STT_GNU_IFUNC):
                    functions.add(name)
                elif kind == STT_OBJECT and int(section_index[index]) < min(SHN_LORESERVE, len(elf.sections)):
                    text = _read_only_string(elf, int(section_index[index]), int(table.entries["value"][index]))
                    if text is not None:
                        strings[name] = text
        except BinaryFormatError as error:
            logger.debug("not scanning the symbols of %s: %s", elf.path, error)
    return ArchiveSymbols(frozenset(defined), frozenset(functions), strings)


def _read_only_string(elf: ElfFile, section_index: int, offset: int) -> str | None:
    section = elf.sections[section_index]
    if not section.name.startswith(".rodata") or section.is_writable or section.type == SHT_NOBITS:
        return None
    return read_string(elf.section_data(section), offset)
