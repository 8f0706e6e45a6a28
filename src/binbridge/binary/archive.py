"""Reader for static archives in the System V / GNU ar format.

An archive is the 8-byte magic ``!<arch>\\n`` followed by members, each a
60-byte ASCII header (name, date, uid, gid, mode, decimal size, "`\\n") and its
data padded to an even offset. GNU ar stores names longer than 15 bytes in a
``//`` member and refers to them as ``/<offset>``. The ``/`` and ``/SYM64/``
members are the symbol index, which lists every global symbol that some member
defines. BSD ``#1/<length>`` names, which put the name in front of the data,
are read too. Thin archives (``!<thin>\\n``) only reference outside files and
are rejected.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from binbridge.binary.errors import ArchiveFormatError

logger = logging.getLogger(__name__)

AR_MAGIC = b"!<arch>\n"
THIN_MAGIC = b"!<thin>\n"
HEADER_SIZE = 60
HEADER_END = b"`\n"
SYMBOL_INDEX_NAMES = ("/", "/SYM64/", "__.SYMDEF", "__.SYMDEF SORTED", "__.SYMDEF_64", "__.SYMDEF_64 SORTED")


@dataclass(frozen=True)
class ArchiveMember:
    """One member file of an archive; data is a zero-copy view into the archive."""

    name: str
    offset: int
    data: memoryview


class Archive:
    """A parsed ar archive. The constructor checks the magic; members are read lazily."""

    def __init__(self, data: bytes | memoryview, path: str) -> None:
        self.data = memoryview(data)
        self.path = path
        head = bytes(self.data[:8])
        if head == THIN_MAGIC:
            raise ArchiveFormatError(
                path,
                "thin archive: its members are stored in separate files, not inside the archive",
                "pass the member object files, or rebuild the archive without the T flag (ar rcs)",
                offset=0,
            )
        if head != AR_MAGIC:
            raise ArchiveFormatError(path, "missing !<arch> magic", offset=0)
        self._long_names = b""
        self.symbol_index = self._read_leading_symbol_index()

    def members(self) -> Iterator[ArchiveMember]:
        """Yield the regular members in file order, skipping the symbol index and long-name table."""
        data, path = self.data, self.path
        position = len(AR_MAGIC)
        while position < len(data):
            if len(data) - position == 1 and data[position] == 0x0A:
                return
            if position + HEADER_SIZE > len(data):
                raise ArchiveFormatError(path, "member header cut short at end of file",
                                         "the archive is truncated; copy or download it again", offset=position)
            header = bytes(data[position:position + HEADER_SIZE])
            if header[58:60] != HEADER_END:
                raise ArchiveFormatError(path, "member header does not end with \"`\\n\"", offset=position)
            size_text = header[48:58].strip()
            if not size_text.isdigit():
                raise ArchiveFormatError(path, f"member size {size_text!r} is not a decimal number", offset=position)
            start = position + HEADER_SIZE
            end = start + int(size_text)
            if end > len(data):
                raise ArchiveFormatError(
                    path, f"member data ends at {end:#x}, past the end of the archive at {len(data):#x}",
                    "the archive is truncated; copy or download it again", offset=position
                )
            raw_name = header[:16].decode("ascii", "replace").rstrip(" ")
            next_position = end + (end & 1)

            if raw_name in SYMBOL_INDEX_NAMES:
                pass
            elif raw_name == "//":
                self._long_names = bytes(data[start:end])
            elif raw_name.startswith("#1/"):
                name_length = _parse_decimal(raw_name[3:], path, position)
                if name_length > end - start:
                    raise ArchiveFormatError(path, f"BSD member name length {name_length} exceeds member size",
                                             offset=position)
                name = bytes(data[start:start + name_length]).rstrip(b"\0").decode("utf-8", "replace")
                yield ArchiveMember(name, start + name_length, data[start + name_length:end])
            else:
                yield ArchiveMember(self._member_name(raw_name, position), start, data[start:end])
            position = next_position

    def _read_leading_symbol_index(self) -> frozenset[str] | None:
        """Return the names in a GNU symbol index, which ar always writes as the first member, or None."""
        start = len(AR_MAGIC)
        header = bytes(self.data[start:start + HEADER_SIZE])
        if len(header) < HEADER_SIZE or header[58:60] != HEADER_END:
            return None
        raw_name = header[:16].decode("ascii", "replace").rstrip(" ")
        size_text = header[48:58].strip()
        if raw_name not in ("/", "/SYM64/") or not size_text.isdigit():
            return None
        end = min(start + HEADER_SIZE + int(size_text), len(self.data))
        return self._parse_symbol_index(start + HEADER_SIZE, end, 8 if raw_name == "/SYM64/" else 4)

    def _member_name(self, raw_name: str, position: int) -> str:
        if raw_name.startswith("/") and raw_name[1:].isdigit():
            offset = int(raw_name[1:])
            if offset >= len(self._long_names):
                raise ArchiveFormatError(
                    self.path, f"long member name offset {offset} is outside the // name table", offset=position
                )
            end = self._long_names.find(b"/\n", offset)
            if end < 0:
                end = self._long_names.find(b"\n", offset)
            return self._long_names[offset:end if end >= 0 else None].decode("utf-8", "replace")
        return raw_name[:-1] if raw_name.endswith("/") else raw_name

    def _parse_symbol_index(self, start: int, end: int, width: int) -> frozenset[str] | None:
        """Read the names of a GNU symbol index: a big-endian count, count offsets, then NUL-terminated names."""
        table = bytes(self.data[start:end])
        if len(table) < width:
            logger.warning("%s: symbol index is too short to hold its count; ignoring it", self.path)
            return None
        count = int.from_bytes(table[:width], "big")
        names_start = width + count * width
        if names_start > len(table):
            logger.warning("%s: symbol index announces %d symbols but is %d bytes; ignoring it",
                           self.path, count, len(table))
            return None
        names = table[names_start:].split(b"\0")
        return frozenset(name.decode("utf-8", "replace") for name in names[:count])


def _parse_decimal(text: str, path: str, position: int) -> int:
    if not text.isdigit():
        raise ArchiveFormatError(path, f"member name length {text!r} is not a decimal number", offset=position)
    return int(text)
