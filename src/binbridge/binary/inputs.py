"""Opening an input path as an ELF file or an ar archive, with clear errors for anything else."""

from __future__ import annotations

import logging
import mmap
import os
import re
from dataclasses import dataclass

from binbridge.binary.archive import AR_MAGIC, THIN_MAGIC, Archive
from binbridge.binary.elf import ELF_MAGIC, ElfFile
from binbridge.binary.errors import NotELFError
from binbridge.errors import InputError

logger = logging.getLogger(__name__)

_LINKER_SCRIPT = re.compile(rb"GNU ld script|\b(?:GROUP|INPUT|OUTPUT_FORMAT|SEARCH_DIR)\s*\(")
_SCRIPT_INPUT = re.compile(rb"(?:GROUP|INPUT|AS_NEEDED)\s*\(([^)]*)\)")


@dataclass(frozen=True)
class OpenedInput:
    """A readable input: exactly one of elf and archive is set."""

    path: str
    data: bytes | mmap.mmap
    elf: ElfFile | None = None
    archive: Archive | None = None


def read_input(path: str | os.PathLike[str]) -> bytes | mmap.mmap:
    """Map a regular file read-only (or read it, where mapping is impossible); raise InputError if unreadable."""
    text_path = os.fspath(path)
    if os.path.isdir(text_path):
        raise InputError(text_path, "is a directory", "pass an ELF file or .a archive")
    try:
        with open(text_path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                raise NotELFError(text_path, "file is empty", "pass an ELF file or .a archive")
            try:
                return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                return handle.read()
    except FileNotFoundError:
        raise InputError(text_path, "file not found", "check the path") from None
    except OSError as error:
        raise InputError(text_path, f"cannot read file: {error.strerror}", "check that it is a readable file") from None


def open_input(path: str | os.PathLike[str]) -> OpenedInput:
    """Open a path as an x86-64 ELF file or an ar archive.

    Raises InputError for missing paths and directories, NotELFError for
    other files (naming GNU ld scripts as such), ArchiveFormatError for thin or
    malformed archives and the ElfFile errors for bad ELF headers.
    """
    text_path = os.fspath(path)
    if os.path.exists(text_path) and not os.path.isdir(text_path) and not os.path.isfile(text_path):
        raise InputError(text_path, "is not a regular file (a FIFO, socket or device)", "pass an ELF file or .a archive")
    data = read_input(text_path)
    head = bytes(data[:8])
    if head in (AR_MAGIC, THIN_MAGIC):
        return OpenedInput(text_path, data, archive=Archive(data, text_path))
    if head.startswith(ELF_MAGIC):
        return OpenedInput(text_path, data, elf=ElfFile(data, text_path))
    start = bytes(data[:4096])
    if _LINKER_SCRIPT.search(start):
        referenced = [name.decode("utf-8", "replace") for group in _SCRIPT_INPUT.findall(start)
                      for name in group.split() if name not in (b"AS_NEEDED", b"(", b")")]
        fix = "pass one of the files it names: " + ", ".join(referenced) if referenced else "pass the files it names"
        raise NotELFError(text_path, "is a GNU ld linker script, not an ELF file or ar archive", fix)
    raise NotELFError(
        text_path, f"not an ELF file or ar archive (starts with {head!r})", "pass an x86-64 ELF file or .a archive",
        offset=0,
    )
