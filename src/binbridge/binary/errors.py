"""Errors raised while reading ELF files and ar archives.

Every error names the file and, where known, the file offset and virtual
address of the bad data, so a report is enough to find the bytes with a hex
editor or ``readelf``.
"""

from __future__ import annotations

import os

from binbridge.errors import InputError


class BinaryFormatError(InputError):
    """A file whose bytes do not follow the ELF or ar format where Binbridge needs them."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        problem: str,
        fix: str = "",
        *,
        offset: int | None = None,
        address: int | None = None,
    ) -> None:
        self.offset = offset
        self.address = address
        # The problem without its location, for messages that name a different file.
        self.detail = problem
        where = []
        if offset is not None:
            where.append(f"file offset {offset:#x}")
        if address is not None:
            where.append(f"address {address:#x}")
        if where:
            problem = f"{problem} (at {', '.join(where)})"
        super().__init__(path, problem, fix)


class NotELFError(BinaryFormatError):
    """A file that is neither an ELF file nor an ar archive."""


class TruncatedFileError(BinaryFormatError):
    """A file that ends before a header or table that its own headers announce."""


class UnsupportedArchitectureError(BinaryFormatError):
    """An ELF file for a machine other than x86-64."""


class CorruptSectionError(BinaryFormatError):
    """A section whose contents are inconsistent (bad sizes, offsets or framing)."""


class ArchiveFormatError(BinaryFormatError):
    """An ar archive with a malformed header or an unsupported variant (thin archives)."""
