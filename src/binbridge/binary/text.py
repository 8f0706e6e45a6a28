"""Normalisation of assembly that a user pastes instead of a binary.

objdump -d output keeps the instruction bytes, so those are disassembled again
with capstone and go through the same FunctionRenderer as binaries, whatever
syntax objdump printed. objdump's ``<name@plt>`` and ``<name@GLIBC_…>``
annotations mark imports, and the relocation lines of ``objdump -dr`` on an
object file name the call targets. Text without bytes (objdump
--no-show-raw-insn, gdb, gcc -S) is converted line by line in syntax.py.
Without the binary, string contents are unknown unless gcc -S text defines
them, so most string references print as ``DATA``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from binbridge.binary.normalize import FunctionRenderer, disassemble, strip_padding
from binbridge.binary.space import INTERNAL, STRING_PATTERN, AddressSpace, import_text, is_import
from binbridge.binary.syntax import normalize_plain_lines
from binbridge.errors import InputError

_INSTRUCTION_LINE = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f]{2}(?: [0-9a-f]{2})*) *(?:\t(.*))?$")
_FUNCTION_HEADER = re.compile(r"^([0-9a-f]+) <(.+)>:\s*$")
_RELOCATION_LINE = re.compile(r"^\s+([0-9a-f]+): (R_X86_64_\w+)\s+(\S+?)(?:[+-]0x[0-9a-f]+)?\s*$")
_ANNOTATION = re.compile(r"(?:^|[\s,])(?:0x)?([0-9a-f]+) <([^>]+)>")

# Made-up addresses that stand for relocation targets of objdump -dr output.
SYMBOL_AREA = 0x70000000
SYMBOL_SLOT = 0x100

PC_RELATIVE_RELOCATIONS = frozenset({
    "R_X86_64_PC32", "R_X86_64_PLT32", "R_X86_64_GOTPCREL", "R_X86_64_GOTPCRELX", "R_X86_64_REX_GOTPCRELX",
})
ABSOLUTE_RELOCATIONS = frozenset({"R_X86_64_32", "R_X86_64_32S"})


class AnnotatedSpace(AddressSpace):
    """An address space without sections, which resolves only the addresses that objdump annotated."""

    def __init__(self, names: dict[int, str], absolute_sites: list[int]) -> None:
        super().__init__(None, {})
        self.names = names
        self.absolute_sites = absolute_sites
        self.absolute_mode = "sites" if absolute_sites else "none"
        self.low, self.high = SYMBOL_AREA, SYMBOL_AREA + SYMBOL_SLOT * max(len(names), 1)

    def resolve(self, address: int) -> int | str:
        return self.names.get(address, address)

    def absolute_text(self, value: int, allow_empty: bool = False, allow_string: bool = True) -> str | None:
        name = self.names.get(value)
        if name is None:
            return None
        return name if is_import(name) else "ADDR"


@dataclass(frozen=True)
class _ListedRelocation:
    """One ``objdump -r`` line: the field offset, the relocation type and the symbol without addend."""

    offset: int
    kind: str
    symbol: str


@dataclass
class _Block:
    """Contiguous instruction bytes of one function from an objdump listing."""

    start: int
    code: bytearray = field(default_factory=bytearray)
    relocations: list[_ListedRelocation] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + len(self.code)


@dataclass
class _Listing:
    """An objdump listing: its byte blocks, the import names of annotated addresses and the function names."""

    blocks: list[_Block] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)


def _annotation_name(name: str) -> str | None:
    """Return the import text for an objdump annotation such as ``puts@plt``, or None for local names."""
    if "+" in name or "@" not in name:
        return None
    return import_text(name)


def _parse_objdump(lines: list[str]) -> _Listing:
    listing = _Listing()
    current: _Block | None = None
    for line in lines:
        header = _FUNCTION_HEADER.match(line)
        if header:
            listing.defined.add(header.group(2))
            current = None
            continue
        relocation = _RELOCATION_LINE.match(line)
        if relocation and current is not None:
            current.relocations.append(
                _ListedRelocation(int(relocation.group(1), 16), relocation.group(2), relocation.group(3))
            )
            continue
        instruction = _INSTRUCTION_LINE.match(line)
        if not instruction:
            continue
        address = int(instruction.group(1), 16)
        if current is None or address != current.end:
            current = _Block(address)
            listing.blocks.append(current)
        current.code.extend(bytes.fromhex(instruction.group(2)))
        for target, name in _ANNOTATION.findall(instruction.group(3) or ""):
            text = _annotation_name(name)
            if text is not None:
                listing.names[int(target, 16)] = text
    return listing


def _apply_listing_relocations(block: _Block, names: dict[int, str], defined: set[str]) -> list[int]:
    """Point each relocated field of an object-file listing at a made-up address that names its symbol."""
    sites = []
    for relocation in block.relocations:
        offset, kind, symbol = relocation.offset, relocation.kind, relocation.symbol
        position = offset - block.start
        if not 0 <= position <= len(block.code) - 4:
            continue
        slot = SYMBOL_AREA + SYMBOL_SLOT * (len(names) + 1)
        local = symbol.startswith(".") or symbol in defined
        names[slot] = INTERNAL if local else import_text(symbol)
        if kind in PC_RELATIVE_RELOCATIONS:
            # The field is usually followed by nothing (calls) or by a short immediate.
            value = slot - (offset + 4)
        elif kind in ABSOLUTE_RELOCATIONS:
            value = slot
            sites.append(offset)
        else:
            continue
        block.code[position:position + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")
    return sites


def _normalize_objdump(lines: list[str]) -> list[str]:
    listing = _parse_objdump(lines)
    output = []
    for block in listing.blocks:
        sites = _apply_listing_relocations(block, listing.names, listing.defined)
        space = AnnotatedSpace(listing.names, sorted(sites))
        instructions = strip_padding(disassemble(bytes(block.code), block.start))
        output.extend(FunctionRenderer(space, instructions, block.start, block.end).render())
    return output


# An AT&T register operand (%rax, %r8d, %xmm0); format strings such as "%s" are not registers.
_ATT_OPERAND = re.compile(r"%(?:[re]?(?:ax|bx|cx|dx|si|di|sp|bp|ip)|r(?:[89]|1[0-5])[dwb]?|[abcd][lh]|[sd]il|[sb]pl"
                          r"|[xyz]mm[0-9]+)\b")


def normalize_assembly_text(text: str) -> str:
    """Normalise pasted assembly to one instruction per line, following the binary normaliser where possible.

    Accepts ``objdump -d`` output (any syntax, with or without ``-r``) and
    plain Intel-syntax lines with optional address prefixes, labels and
    comments. Addresses, byte columns, headers and directives are dropped.
    """
    lines = text.splitlines()
    if any(_INSTRUCTION_LINE.match(line) for line in lines):
        return "\n".join(_normalize_objdump(lines))
    if any(_ATT_OPERAND.search(STRING_PATTERN.sub("", line)) for line in lines):
        raise InputError(None, "AT&T syntax without instruction bytes cannot be read",
                         "paste Intel syntax (objdump -M intel, gdb 'set disassembly-flavor intel', "
                         "gcc -S -masm=intel) or objdump -d output with its bytes")
    return "\n".join(normalize_plain_lines(lines))
