"""Bounded parser for the .eh_frame section (LSB "Exception Frames" format).

The section is a sequence of length-prefixed entries. A CIE (CIE id 0) gives
the pointer encoding of its FDEs in the "R" element of a "z" augmentation. An
FDE has a non-zero CIE pointer, counted backwards from the pointer field, and
contains pc_begin and pc_range, which give one function's address range. Call frame
instructions are not needed and are skipped.

Every loop advances by at least four bytes and every read is checked against
the end of its entry, so corrupt input ends the parse instead of hanging it.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass

from binbridge.binary.errors import CorruptSectionError

logger = logging.getLogger(__name__)

DW_EH_PE_OMIT = 0xFF
DW_EH_PE_PCREL = 0x10
DW_EH_PE_INDIRECT = 0x80

_FIXED_FORMATS = {
    0x00: ("<Q", 8),  # absptr on a 64-bit target
    0x02: ("<H", 2),
    0x03: ("<I", 4),
    0x04: ("<Q", 8),
    0x0A: ("<h", 2),
    0x0B: ("<i", 4),
    0x0C: ("<q", 8),
}
_ULEB128, _SLEB128 = 0x01, 0x09


@dataclass(frozen=True)
class FrameDescription:
    """The address range of one FDE.

    pc_begin is the decoded start address. In relocatable objects the field is
    filled in by a relocation, so callers resolve pc_begin_offset (the section
    offset of the field) through .rela.eh_frame instead.
    """

    offset: int
    pc_begin_offset: int
    pc_begin: int
    pc_range: int


class _BadEntry(Exception):
    """An entry that cannot be decoded; the parser skips it and keeps the framing."""


class _Reader:
    def __init__(self, data: bytes, position: int, end: int) -> None:
        self.data = data
        self.position = position
        self.end = end

    def take(self, size: int) -> int:
        start = self.position
        if start + size > self.end:
            raise _BadEntry(f"field at {start:#x} runs past the end of its entry")
        self.position = start + size
        return start

    def byte(self) -> int:
        return self.data[self.take(1)]

    def leb128(self, signed: bool) -> int:
        result = shift = 0
        while True:
            value = self.byte()
            result |= (value & 0x7F) << shift
            shift += 7
            if not value & 0x80:
                break
            if shift > 63:
                raise _BadEntry(f"LEB128 value at {self.position:#x} is longer than 10 bytes")
        if signed and value & 0x40:
            result -= 1 << shift
        return result

    def encoded(self, encoding: int, section_address: int, apply_base: bool) -> int:
        """Read a DW_EH_PE-encoded value; apply_base adds the pc-relative base for pointers."""
        field_position = self.position
        format_ = encoding & 0x0F
        if format_ == _ULEB128:
            value = self.leb128(signed=False)
        elif format_ == _SLEB128:
            value = self.leb128(signed=True)
        elif format_ in _FIXED_FORMATS:
            code, size = _FIXED_FORMATS[format_]
            value = struct.unpack_from(code, self.data, self.take(size))[0]
        else:
            raise _BadEntry(f"unknown pointer format {encoding:#04x}")
        if not apply_base:
            return value
        application = encoding & 0x70
        if application == DW_EH_PE_PCREL:
            value += section_address + field_position
        elif application != 0:
            raise _BadEntry(f"unsupported pointer application {encoding:#04x}")
        return value & 0xFFFFFFFFFFFFFFFF


def _parse_cie(data: bytes, start: int, end: int) -> int:
    """Return the FDE pointer encoding of a CIE whose body (after the CIE id) spans [start, end)."""
    reader = _Reader(data, start, end)
    version = reader.byte()
    if version not in (1, 3, 4):
        raise _BadEntry(f"CIE version {version} is not 1, 3 or 4")
    terminator = data.find(b"\0", reader.position, end)
    if terminator < 0:
        raise _BadEntry("CIE augmentation string is not NUL-terminated")
    augmentation = data[reader.position:terminator].decode("ascii", "replace")
    reader.position = terminator + 1

    if "eh" in augmentation:
        reader.take(8)
    if version == 4:
        reader.take(2)  # address_size and segment_selector_size
    reader.leb128(signed=False)
    reader.leb128(signed=True)
    if version == 1:
        reader.byte()
    else:
        reader.leb128(signed=False)

    if not augmentation.startswith("z"):
        if augmentation in ("", "eh"):
            return 0
        raise _BadEntry(f"unknown CIE augmentation {augmentation!r}")

    reader.leb128(signed=False)
    encoding = 0
    for letter in augmentation[1:]:
        if letter == "R":
            encoding = reader.byte()
        elif letter == "P":
            personality_encoding = reader.byte()
            reader.encoded(personality_encoding & 0x0F, 0, apply_base=False)
        elif letter == "L":
            reader.byte()
        elif letter not in "SBG":
            break
    return encoding


def parse_eh_frame(data: bytes, section_address: int, path: str, file_offset: int = 0) -> list[FrameDescription]:
    """Return the FDEs of an .eh_frame section, in section order.

    Raises CorruptSectionError when the first entry's framing is already
    broken. A bad entry later on is skipped (bad FDE or CIE contents) or ends
    the parse (a length that leaves the section), with one logged warning.
    """
    descriptions: list[FrameDescription] = []
    encodings: dict[int, int | None] = {}
    skipped = 0
    position = 0
    while position + 4 <= len(data):
        length = struct.unpack_from("<I", data, position)[0]
        if length == 0:
            break
        header_size = 4
        if length == 0xFFFFFFFF:
            if position + 12 > len(data):
                length = len(data)
            else:
                length = struct.unpack_from("<Q", data, position + 4)[0]
            header_size = 12
        end = position + header_size + length
        if end > len(data) or length < 4:
            problem = f".eh_frame entry length {length:#x} leaves the {len(data):#x}-byte section"
            if position == 0:
                raise CorruptSectionError(path, problem, offset=file_offset + position,
                                          address=section_address + position)
            logger.warning("%s: %s at offset %#x; ignoring the rest of .eh_frame", path, problem, position)
            break
        id_position = position + header_size
        cie_pointer = struct.unpack_from("<I", data, id_position)[0]
        try:
            if cie_pointer == 0:
                encodings[position] = _parse_cie(data, id_position + 4, end)
            else:
                descriptions.append(
                    _parse_fde(data, position, id_position, cie_pointer, end, encodings, section_address)
                )
        except _BadEntry as problem:
            if cie_pointer == 0:
                encodings[position] = None
            skipped += 1
            logger.debug("%s: skipping .eh_frame entry at offset %#x: %s", path, position, problem)
        position = end
    if skipped:
        logger.warning("%s: skipped %d malformed .eh_frame entries", path, skipped)
    return descriptions


def _parse_fde(
    data: bytes,
    position: int,
    id_position: int,
    cie_pointer: int,
    end: int,
    encodings: dict[int, int | None],
    section_address: int,
) -> FrameDescription:
    cie_position = id_position - cie_pointer
    if cie_position not in encodings:
        raise _BadEntry(f"CIE pointer {cie_pointer:#x} does not point at a CIE")
    encoding = encodings[cie_position]
    if encoding is None:
        raise _BadEntry("its CIE is malformed")
    if encoding == DW_EH_PE_OMIT or encoding & DW_EH_PE_INDIRECT:
        raise _BadEntry(f"pc_begin encoding {encoding:#04x} is not a direct pointer")
    reader = _Reader(data, id_position + 4, end)
    begin_offset = reader.position
    pc_begin = reader.encoded(encoding, section_address, apply_base=True)
    pc_range = reader.encoded(encoding & 0x0F, section_address, apply_base=False)
    return FrameDescription(position, begin_offset, pc_begin, pc_range)
