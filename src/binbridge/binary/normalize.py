"""The assembly normaliser shared by training data and inference inputs.

Each instruction is printed as capstone's Intel-syntax ``mnemonic operands``
with addresses replaced by tokens that a stripped binary can show as well as
an object file from an archive:

* ``<name>`` for imports (PLT or GOT in linked files, undefined symbols in objects);
* ``FUNC`` for any other call target and any jump that leaves the function;
* ``.L<k>`` for a jump to the k-th (0-based) instruction of the same function;
* a quoted string for a reference to a NUL-terminated printable string in .rodata*;
* ``DATA`` for other rip-relative references, ``ADDR`` for other absolute addresses.

Other immediates and displacements are kept, because constants carry meaning.
"""

from __future__ import annotations

import bisect
import operator
import re
from dataclasses import dataclass

import capstone

from binbridge.binary.records import BRANCH_CALL, BRANCH_CONDITIONAL, BRANCH_JUMP, OutsideBranch
from binbridge.binary.space import AddressSpace, is_import

BRANCH_MNEMONICS = frozenset({
    "call", "jmp", "jo", "jno", "jb", "jae", "je", "jne", "jbe", "ja", "js", "jns", "jp", "jnp",
    "jl", "jge", "jle", "jg", "jrcxz", "jecxz", "jcxz", "loop", "loope", "loopne", "xbegin",
})
PADDING_MNEMONICS = frozenset({"nop", "int3"})
BAD_INSTRUCTION = "(bad)"

_RIP_OPERAND = re.compile(r"\[rip(?: ([+-]) (0x[0-9a-f]+|\d+))?\]")
_HEX_NUMBER = re.compile(r"(- )?\b0x[0-9a-f]+")

_ADDRESS = operator.itemgetter(0)  # of a capstone (address, size, mnemonic, operands) tuple

_disassembler = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)


@dataclass(frozen=True)
class Disassembly:
    """Normalised text of one function; num_instructions counts all of them, even past a line limit."""

    assembly: str
    num_instructions: int
    outside_branches: tuple[OutsideBranch, ...] = ()


def disassemble(code: bytes, address: int) -> list[tuple[int, int, str, str]]:
    """Disassemble code linearly into capstone (address, size, mnemonic, operands) tuples.

    Bytes that do not decode become one-byte ``(bad)`` entries, and decoding
    resumes at the next byte, as objdump does.
    """
    instructions: list[tuple[int, int, str, str]] = []
    position = 0
    while position < len(code):
        chunk = code if position == 0 else code[position:]
        instructions.extend(_disassembler.disasm_lite(chunk, address + position))
        decoded_end = instructions[-1][0] + instructions[-1][1] - address if instructions else 0
        if decoded_end < len(code) and decoded_end >= position:
            instructions.append((address + decoded_end, 1, BAD_INSTRUCTION, ""))
            decoded_end += 1
        position = max(decoded_end, position + 1)
    return instructions


def _is_padding_tuple(instruction: tuple[int, int, str, str]) -> bool:
    return instruction[2] in PADDING_MNEMONICS


def strip_padding(instructions: list, is_padding=_is_padding_tuple) -> list:
    """Drop trailing alignment padding, keeping at least one instruction.

    ``instructions`` are capstone tuples by default. For other instruction types, pass an
    ``is_padding`` predicate.
    """
    end = len(instructions)
    while end > 1 and is_padding(instructions[end - 1]):
        end -= 1
    return instructions[:end]


class FunctionRenderer:
    """Print the instructions of one function [start, end) in an address space."""

    def __init__(self, space: AddressSpace, instructions: list[tuple[int, int, str, str]], start: int,
                 end: int, record_branches: bool = True) -> None:
        self.space = space
        self.instructions = instructions
        self.start = start
        self.end = end
        self.record_branches = record_branches
        self.outside_branches: list[OutsideBranch] = []

    def label(self, target: int) -> str:
        # Instructions are in address order. A binary search costs less than a
        # dict of every address, because few instructions are jump targets.
        position = bisect.bisect_left(self.instructions, target, key=_ADDRESS)
        if position < len(self.instructions) and self.instructions[position][0] == target:
            return f".L{position}"
        return ".L?"

    def branch_text(self, target: int) -> str:
        resolved = self.space.resolve(target)
        return resolved if is_import(resolved) else "FUNC"

    def memory_text(self, target: int, allow_empty: bool) -> str:
        if self.start <= target < self.end:
            return self.label(target)
        resolved = self.space.resolve(target)
        if isinstance(resolved, int) and resolved != target and self.start <= resolved < self.end:
            return self.label(resolved)
        return self.space.pointee_text(resolved, allow_empty)

    def absolute_text(self, match: re.Match[str], allow_empty: bool) -> str:
        if match.group(1):
            return match.group()
        value = int(match.group(), 16)
        if not self.space.low <= value < self.space.high and self.space.absolute_mode == "all":
            # NOTE: in non-PIE executables any constant inside a section's address
            # range reads as an address, so a mask such as 0x400000 may print as ADDR.
            return match.group()
        operands, position = match.string, match.start()
        in_brackets = operands.rfind("[", 0, position) > operands.rfind("]", 0, position)
        # An absolute displacement is a table or variable (a jump table, for
        # instance), so only immediates may print as strings.
        text = self.space.absolute_text(value, allow_empty, allow_string=not in_brackets)
        return match.group() if text is None else text

    def render(self, limit: int | None = None) -> list[str]:
        space = self.space
        mode = space.absolute_mode
        # Addresses show up only as branch targets, rip-relative operands and, where
        # absolute_mode allows, other hex numbers. Most instructions have none of
        # these and print as capstone wrote them.
        hex_may_be_address = mode == "all" or (mode == "sites" and space.has_absolute_site(self.start, self.end))
        lines = []
        append = lines.append
        instructions = self.instructions if limit is None else self.instructions[:limit]
        for instruction in instructions:
            operands = instruction[3]
            if "rip" in operands or ("0x" in operands and (hex_may_be_address or operands[:2] == "0x")):
                append(self._render_addresses(instruction))
            elif operands:
                append(f"{instruction[2]} {operands}")
            else:
                append(instruction[2])
        return lines

    def _render_addresses(self, instruction: tuple[int, int, str, str]) -> str:
        """Print one instruction whose operands contain a hex number or rip."""
        address, size, mnemonic, operands = instruction
        last_word = mnemonic.rpartition(" ")[2]
        if last_word in BRANCH_MNEMONICS and operands.startswith("0x"):
            target = int(operands, 16)
            if last_word != "call" and self.start <= target < self.end:
                return f"{mnemonic} {self.label(target)}"
            text = self.branch_text(target)
            if self.record_branches:
                self.outside_branches.append(OutsideBranch(target, _branch_kind(last_word), text == "FUNC"))
            return f"{mnemonic} {text}"
        space = self.space
        mode = space.absolute_mode
        if "rip" in operands:
            next_address = address + size
            is_lea = last_word == "lea"
            operands = _RIP_OPERAND.sub(
                lambda match: f"[rip + {self.memory_text(next_address + _displacement(match), is_lea)}]",
                operands,
            )
        elif mode == "all" or (mode == "sites" and space.has_absolute_site(address, address + size)):
            is_mov = last_word == "mov"
            operands = _HEX_NUMBER.sub(lambda match: self.absolute_text(match, is_mov), operands)
        return f"{mnemonic} {operands}"


def _branch_kind(mnemonic: str) -> str:
    if mnemonic == "call":
        return BRANCH_CALL
    return BRANCH_JUMP if mnemonic == "jmp" else BRANCH_CONDITIONAL


def _displacement(match: re.Match[str]) -> int:
    if match.group(2) is None:
        return 0
    value = int(match.group(2), 0)
    return -value if match.group(1) == "-" else value


def render_function(space: AddressSpace, start: int, size: int, code: bytes,
                    max_instructions: int | None = None, record_branches: bool = True) -> Disassembly:
    """Disassemble and normalise the function at image address start, whose bytes are code.

    With ``record_branches`` the result lists the calls and jumps that leave the function.
    """
    instructions = strip_padding(disassemble(code, start))
    renderer = FunctionRenderer(space, instructions, start, start + size, record_branches)
    lines = renderer.render(max_instructions)
    return Disassembly("\n".join(lines), len(instructions), tuple(renderer.outside_branches))
