"""Public entry points: describe a binary, iterate its functions, find the function at an address."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from binbridge.binary.discovery import FunctionBoundary, discover_functions, has_function_symbols
from binbridge.binary.elf import SHT_NOBITS, ElfFile
from binbridge.binary.errors import BinaryFormatError
from binbridge.binary.inputs import OpenedInput, open_input
from binbridge.binary.linked import LinkedSpace
from binbridge.binary.members import ArchiveSymbols, archive_elves, require_x86_64_member, scan_archive_symbols
from binbridge.binary.normalize import render_function
from binbridge.binary.records import BinaryInfo, ExtractedFunction
from binbridge.binary.relocatable import RelocatableSpace
from binbridge.binary.runtime import SOURCE_RUNTIME
from binbridge.binary.space import AddressSpace
from binbridge.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

ARCH = "x86_64"
# Functions per run that iter_function_runs hands to its transform when it reads in this process.
RUN_LENGTH = 1024

T = TypeVar("T")

# A string between two NULs (or at the section's start): at least 4 bytes, printable ASCII with tabs and line
# ends, or the bytes of UTF-8 text ("échec").
_READ_ONLY_STRING = re.compile(rb"(?:^|(?<=\x00))[\t\n\r\x20-\x7e\x80-\xff]{4,}(?=\x00)")


def make_space(elf: ElfFile, archive_symbols: ArchiveSymbols | None = None) -> AddressSpace:
    return RelocatableSpace(elf, archive_symbols) if elf.is_relocatable else LinkedSpace(elf)


def _extract(space: AddressSpace, function: FunctionBoundary, binary: str, with_assembly: bool,
             max_instructions: int | None) -> ExtractedFunction:
    assembly, count, branches = "", 0, ()
    if with_assembly:
        offset = function.start - space.bases[function.section.index]
        code = space.section_bytes(function.section)[offset:offset + function.size]
        # Relocatable objects place sections at layout addresses, not at the addresses reported.
        linked = not isinstance(space, RelocatableSpace)
        rendered = render_function(space, function.start, function.size, code, max_instructions, linked)
        assembly, count, branches = rendered.assembly, rendered.num_instructions, rendered.outside_branches
    return ExtractedFunction(
        name=function.name,
        address=function.address,
        size=function.size,
        assembly=assembly,
        binary=binary,
        arch=ARCH,
        source=function.source,
        section=function.section.name,
        num_instructions=count,
        outside_branches=branches,
    )


def _elf_functions(space: AddressSpace, functions: list[FunctionBoundary], binary: str, with_assembly: bool,
                   max_instructions: int | None) -> Iterator[ExtractedFunction]:
    for function in functions:
        yield _extract(space, function, binary, with_assembly, max_instructions)


def member_functions(elves: Iterable[ElfFile], symbols: ArchiveSymbols, with_assembly: bool,
                     max_instructions: int | None) -> Iterator[ExtractedFunction]:
    """Yield the functions of archive members, skipping damaged members with a warning."""
    for elf in elves:
        # One member's functions are built before any is yielded, so that a
        # corrupt member is skipped whole instead of ending the iteration.
        try:
            space = make_space(elf, symbols)
            extracted = [_extract(space, function, elf.path, with_assembly, max_instructions)
                         for function in discover_functions(elf, space)]
        except BinaryFormatError as error:
            logger.warning("skipping archive member: %s", error)
            continue
        yield from extracted


def iter_functions(path: str | os.PathLike[str], *, with_assembly: bool = True,
                   max_instructions: int | None = None, jobs: int = 1) -> Iterator[ExtractedFunction]:
    """Yield the functions of an ELF file or of every x86-64 member of an ar archive.

    Functions come in address order per file (archive members in archive
    order); objects with several code sections yield them in section order.
    The file is opened and, for a single ELF file, its functions are found
    before this returns, so format errors raise here rather than at the first
    next(). Damaged archive members are skipped with a warning. max_instructions
    limits the lines of each function's assembly. With jobs > 1 the members of
    a large archive are extracted in that many worker processes, in order.
    """
    _check_options("iter_functions", max_instructions, jobs)
    return _functions(open_input(path), with_assembly, max_instructions, jobs)


def iter_function_runs(path: str | os.PathLike[str], transform: Callable[[list[ExtractedFunction]], T], *,
                       with_assembly: bool = True, max_instructions: int | None = None,
                       jobs: int = 1) -> Iterator[T]:
    """Yield ``transform`` of consecutive runs of the functions that iter_functions yields, in the same order.

    With jobs > 1 the worker processes that extract a large archive call
    ``transform`` too, so only its results are sent back to this process. A
    transform that formats the functions as text saves pickling them. Other
    inputs are read in this process in runs of up to RUN_LENGTH functions.
    """
    _check_options("iter_function_runs", max_instructions, jobs)
    opened = open_input(path)
    if opened.archive is not None and jobs > 1:
        from binbridge.binary.parallel import parallel_member_runs

        return parallel_member_runs(opened.path, opened.archive, jobs, with_assembly, max_instructions, transform)
    functions = _functions(opened, with_assembly, max_instructions, jobs=1)
    return (transform(run) for run in _batches(functions, RUN_LENGTH))


def _functions(opened: OpenedInput, with_assembly: bool, max_instructions: int | None,
               jobs: int) -> Iterator[ExtractedFunction]:
    if opened.archive is not None and jobs > 1:
        from binbridge.binary.parallel import parallel_member_functions

        return parallel_member_functions(opened.path, opened.archive, jobs, with_assembly, max_instructions)
    if opened.archive is not None:
        require_x86_64_member(opened.archive)
        symbols = scan_archive_symbols(archive_elves(opened.archive, warn=False))
        return member_functions(archive_elves(opened.archive), symbols, with_assembly, max_instructions)
    space = make_space(opened.elf)
    functions = discover_functions(opened.elf, space)
    return _elf_functions(space, functions, opened.path, with_assembly, max_instructions)


def _batches(items: Iterator[ExtractedFunction], length: int) -> Iterator[list[ExtractedFunction]]:
    while run := list(itertools.islice(items, length)):
        yield run


def _check_options(caller: str, max_instructions: int | None, jobs: int) -> None:
    if max_instructions is not None and (
        isinstance(max_instructions, bool) or not isinstance(max_instructions, int) or max_instructions < 1
    ):
        raise ConfigError(caller, "max_instructions", max_instructions, "must be a positive integer or None")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(caller, "jobs", jobs, "must be a positive integer")


def describe_binary(path: str | os.PathLike[str]) -> BinaryInfo:
    """Return the hash, kind and stripped state of an ELF file or archive."""
    opened = open_input(path)
    digest = hashlib.sha256(opened.data).hexdigest()
    if opened.archive is not None:
        stripped = not any(has_function_symbols(elf) for elf in archive_elves(opened.archive, warn=False))
        return BinaryInfo(opened.path, digest, ARCH, "archive", stripped)
    return BinaryInfo(opened.path, digest, ARCH, opened.elf.kind, not has_function_symbols(opened.elf),
                      opened.elf.soname)


def function_names(path: str | os.PathLike[str]) -> list[str]:
    """Return the names that the functions of an ELF file or archive keep (symbols, or a stripped library's exports).

    GCC's start-up code (``frame_dummy``, source ``runtime``) is left out, because the compiler
    named it, not the program. Only the function boundaries are read, not the code. An archive
    gives the names of all its x86-64 members; a damaged member is skipped.
    """
    opened = open_input(path)
    elves = archive_elves(opened.archive, warn=False) if opened.archive is not None else [opened.elf]
    names = []
    for elf in elves:
        try:
            functions = discover_functions(elf, make_space(elf))
        except BinaryFormatError:
            if opened.archive is None:
                raise
            continue
        names.extend(f.name for f in functions if f.name and f.source != SOURCE_RUNTIME)
    return names


def read_only_strings(path: str | os.PathLike[str], max_bytes: int | None = None) -> list[str]:
    """Return the distinct NUL-terminated text strings (4 bytes or more) in a file's read-only data, in file order.

    Only ``.rodata*`` sections count, so the symbol and dynamic string tables stay out: a
    stripped file keeps its messages, option names and format strings there. An archive gives
    the strings of all its x86-64 members; a damaged section or member is skipped. With
    ``max_bytes``, reading stops once the strings found add up to that many bytes.
    """
    opened = open_input(path)
    elves = archive_elves(opened.archive, warn=False) if opened.archive is not None else [opened.elf]
    found: dict[str, None] = {}
    total = 0
    for elf in elves:
        for section in elf.sections:
            if not section.name.startswith(".rodata") or section.is_writable or section.type == SHT_NOBITS:
                continue
            try:
                data = elf.section_data(section)
            except BinaryFormatError as error:
                logger.debug("failed to read the strings of a section of %s, so it is skipped: %s", elf.path, error)
                continue
            for match in _READ_ONLY_STRING.finditer(data):
                raw = match.group()
                try:
                    found[raw.decode("utf-8")] = None
                except UnicodeDecodeError:  # binary data that happens to lie between two NULs
                    continue
                total += len(raw)
                if max_bytes is not None and total >= max_bytes:
                    return list(found)
    return list(found)


class LazyReadOnlyStrings:
    """The read-only strings of a file (``read_only_strings``), read when first iterated and then kept."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int | None = None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._strings: list[str] | None = None

    def __iter__(self) -> Iterator[str]:
        if self._strings is None:
            self._strings = read_only_strings(self.path, self.max_bytes)
        return iter(self._strings)


def find_function(path: str | os.PathLike[str], address: int) -> ExtractedFunction:
    """Return the function whose [address, address + size) contains an address.

    Meant for linked files. For a relocatable object the address is a section
    offset, and the first code section with a match wins.
    """
    opened = open_input(path)
    if isinstance(address, bool) or not isinstance(address, int) or address < 0:
        raise InputError(opened.path, f"address {address!r} is not a non-negative integer",
                         "pass a virtual address such as 0x1139")
    if opened.archive is not None:
        raise InputError(opened.path, "is an ar archive, where an address does not name one function",
                         "extract the member first (ar x LIB.a MEMBER.o) and pass MEMBER.o with an offset in it")
    space = make_space(opened.elf)
    for function in discover_functions(opened.elf, space):
        if function.address <= address < function.address + function.size:
            return _extract(space, function, opened.path, True, None)
    raise InputError(opened.path, f"no function contains address {address:#x}",
                     "pass an address inside a function, as listed by objdump -d or readelf -sW")
