"""Result types of the binary-analysis layer."""

from __future__ import annotations

from dataclasses import dataclass


BRANCH_CALL = "call"
BRANCH_JUMP = "jmp"
BRANCH_CONDITIONAL = "jcc"


@dataclass(frozen=True, slots=True)
class OutsideBranch:
    """A direct call or jump from a function to an address outside it."""

    target: int
    """Virtual address of the target."""
    kind: str
    """``call``, ``jmp``, or ``jcc`` for conditional jumps (jcc, loop, jrcxz, ...)."""
    internal: bool = True
    """False for a call or jump to an import, which the assembly shows by name (``<malloc>``);
    True for one that shows as ``FUNC``."""


@dataclass(frozen=True)
class ExtractedFunction:
    """One function of a binary with its normalised assembly."""

    name: str | None
    """Symbol name from the symbol table, or None when the binary does not name the function."""
    address: int
    """Virtual address in linked files; offset inside its section for relocatable objects."""
    size: int
    """Size in bytes."""
    assembly: str
    """Normalised assembly, one instruction per line; empty when extracted with with_assembly=False."""
    binary: str
    """Path as given; ``path/lib.a:member.o`` for archive members."""
    arch: str
    """Always ``"x86_64"``."""
    source: str
    """Origin of the boundary and name: ``"symtab"``, ``"dynsym"``, ``"eh_frame"`` or ``"runtime"``
    (a start-up function that the ELF headers point at, see runtime.py)."""
    section: str
    """Name of the section that contains the function, such as ``.text``."""
    num_instructions: int
    """Instruction count of the whole function, after trailing padding is dropped, even when
    max_instructions cut the assembly short; 0 when extracted with with_assembly=False."""
    outside_branches: tuple[OutsideBranch, ...] = ()
    """Direct calls and jumps that leave the function, in linked files only (empty for relocatable
    objects and archive members, and past max_instructions). They tie hot/cold split parts together."""


@dataclass(frozen=True)
class BinaryInfo:
    """Summary of one input file."""

    path: str
    sha256: str
    arch: str
    kind: str
    """One of ``"executable"``, ``"shared_object"``, ``"relocatable"`` or ``"archive"``."""
    stripped: bool
    """True when .symtab has no sized function symbols (for archives: in no member)."""
    soname: str = ""
    """DT_SONAME of a shared object (``libpcap.so.0.8``); "" for other files."""
