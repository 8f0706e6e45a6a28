"""GCC's start-up functions in a stripped program, found from the ELF headers instead of the FDEs.

Every program or library that gcc links carries code from crt1.o and
crtbegin.o: ``_start`` at the entry point, and ``deregister_tm_clones``,
``register_tm_clones``, ``__do_global_dtors_aux`` and ``frame_dummy``, which
have no FDE, so discovery from .eh_frame misses them. The headers still point
at them: ``frame_dummy`` is the first entry of .init_array and
``__do_global_dtors_aux`` the first of .fini_array. ``frame_dummy`` jumps to
``register_tm_clones``, and ``__do_global_dtors_aux`` calls
``deregister_tm_clones``. ``_init`` and ``_fini`` stay out, as .init and
.fini do for every binary (see discovery.py).

NOTE: checked on binaries that Debian 12's gcc 12 and binutils 2.40 linked. A
linker that writes 0 into .init_array and leaves the address to a relocation
gives no frame_dummy here.
"""

from __future__ import annotations

import struct

import capstone

from binbridge.binary.elf import ElfFile, Section
from binbridge.binary.normalize import PADDING_MNEMONICS
from binbridge.binary.space import AddressSpace

SOURCE_RUNTIME = "runtime"
# crtbegin's functions are 9 to 57 bytes in /usr/bin/ls, so a longer gap to the next function
# holds more than one of them.
MAX_RUNTIME_SIZE = 256
_ENDBR64 = b"\xf3\x0f\x1e\xfa"
_disassembler = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)


def runtime_names(elf: ElfFile, space: AddressSpace, sections: dict[int, Section]) -> dict[int, str]:
    """Return the address and name of each start-up function that the headers point at.

    A pointer that leads outside the code sections names nothing, so a binary
    that another toolchain linked is left as it was.
    """
    found: dict[int, str] = {}
    if elf.entry and _in_code(space, sections, elf.entry):
        found[elf.entry] = "_start"
    frame_dummy = _first_pointer(elf, space, ".init_array")
    if frame_dummy is not None and _in_code(space, sections, frame_dummy):
        found[frame_dummy] = "frame_dummy"
        register = _jump_target(space, frame_dummy)
        if register is not None and _in_code(space, sections, register):
            found[register] = "register_tm_clones"
    dtors_aux = _first_pointer(elf, space, ".fini_array")
    if dtors_aux is not None and _in_code(space, sections, dtors_aux):
        found[dtors_aux] = "__do_global_dtors_aux"
        deregister = _first_call(space, sections, dtors_aux)
        if deregister is not None:
            found[deregister] = "deregister_tm_clones"
    return found


def code_end(space: AddressSpace, start: int, end: int) -> int:
    """Return where the code in [start, end) ends once the alignment padding after it is dropped."""
    last = start
    for instruction in _disassembler.disasm(_code_at(space, start, end - start), start):
        if instruction.mnemonic not in PADDING_MNEMONICS and not (
                instruction.mnemonic == "xchg" and instruction.op_str == "ax, ax"):
            last = instruction.address + instruction.size
    return last if last > start else end


def _in_code(space: AddressSpace, sections: dict[int, Section], address: int) -> bool:
    region = space.region(address)
    return region is not None and region.section.index in sections


def _first_pointer(elf: ElfFile, space: AddressSpace, name: str) -> int | None:
    """Return the first 8-byte pointer of an array section, as the linker wrote it into the file."""
    section = elf.section(name)
    if section is None or section.size < 8:
        return None
    (pointer,) = struct.unpack_from("<Q", space.section_bytes(section), 0)
    return pointer or None


def _code_at(space: AddressSpace, address: int, size: int) -> bytes:
    region = space.region(address)
    offset = address - region.start
    return space.section_bytes(region.section)[offset:offset + size]


def _jump_target(space: AddressSpace, address: int) -> int | None:
    """Return where ``frame_dummy`` jumps: ``[endbr64;] jmp TARGET`` is its whole body."""
    code = _code_at(space, address, 16)
    if code.startswith(_ENDBR64):
        code, address = code[4:], address + 4
    if code[:1] == b"\xe9" and len(code) >= 5:
        return address + 5 + struct.unpack_from("<i", code, 1)[0]
    if code[:1] == b"\xeb" and len(code) >= 2:
        return address + 2 + struct.unpack_from("<b", code, 1)[0]
    return None


def _first_call(space: AddressSpace, sections: dict[int, Section], address: int) -> int | None:
    """Return the first direct call from ``__do_global_dtors_aux`` into a code section (not the PLT)."""
    for instruction in _disassembler.disasm(_code_at(space, address, 96), address):
        if instruction.mnemonic == "ret":
            return None
        if instruction.mnemonic == "call" and instruction.op_str.startswith("0x"):
            target = int(instruction.op_str, 16)
            if _in_code(space, sections, target):
                return target
    return None
