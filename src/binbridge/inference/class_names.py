"""Name the virtual functions of C++ classes from RTTI (``binary.rtti``) in ``binbridge name``.

A destructor gets its class's destructor name (``gold::Output::~Output``; the
deleting destructor ``gold::Output::~Output_deleting``). Another virtual method
gets its class and vtable slot (``gold::Output::vfunc_3``), or its class and its
``__func__`` string when it passes one (``gold::Output::do_write``). Functions
that have a symbol, a signature or a call-key name keep that name.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

from binbridge.binary import ExtractedFunction
from binbridge.binary.extract import make_space
from binbridge.binary.inputs import open_input
from binbridge.binary.linked import LinkedSpace
from binbridge.binary.rtti import KIND_METHOD, find_virtual_functions
from binbridge.data.call_keys import internal_targets

logger = logging.getLogger(__name__)

SOURCE_RTTI = "rtti"
# RTTI gives the class for certain. The confidence is lower where the method part is a placeholder.
DESTRUCTOR_CONFIDENCE = 0.9
STRING_METHOD_CONFIDENCE = 0.75
SLOT_METHOD_CONFIDENCE = 0.5
# operator delete(void*), (void*, size_t) and their aligned forms.
_OPERATOR_DELETE = "_ZdlPv"
# A static libstdc++ links operator delete in: ``jmp <free>``, and the sized form jumps to that.
# Neither is long enough for a signature, so the shape of the body identifies them.
_FREE_NAMES = frozenset({"free", "__libc_free", "cfree"})
_JUMP_ONLY = re.compile(r"^(?:endbr64\n)?jmp (<free>|FUNC)$")


@dataclass(frozen=True)
class PresetName:
    """A name found before the model runs, with its confidence and source."""

    name: str
    confidence: float
    source: str


@dataclass
class ClassInputs:
    """The facts from the first read of a binary that RTTI naming needs."""

    starts: set[int] = field(default_factory=set)
    targets: dict[int, list[int]] = field(default_factory=dict)
    """Address -> the functions that it calls or jumps to (``FUNC`` branches)."""
    imports_delete: set[int] = field(default_factory=set)
    """Functions that call an imported operator delete."""
    strings: dict[int, str] = field(default_factory=dict)
    named: set[int] = field(default_factory=set)
    frees: set[int] = field(default_factory=set)
    """Functions whose whole body is ``jmp <free>``."""
    jumps: dict[int, int] = field(default_factory=dict)
    """Function -> the function that its whole body (one ``jmp``) goes to."""

    def add(self, function: ExtractedFunction, name: str | None, own_string: str | None) -> None:
        """Record one function: ``name`` is the name it keeps (a symbol), ``own_string`` its ``__func__`` name."""
        self.starts.add(function.address)
        if name:
            self.named.add(function.address)
        targets = internal_targets(function.outside_branches)
        if targets:
            self.targets[function.address] = targets
        if f"<{_OPERATOR_DELETE}" in function.assembly:
            self.imports_delete.add(function.address)
        if own_string:
            self.strings[function.address] = own_string
        jump = _JUMP_ONLY.match(function.assembly.strip())
        if jump and jump.group(1) == "<free>":
            self.frees.add(function.address)
        elif jump and targets:
            self.jumps[function.address] = targets[0]

    def delete_functions(self, known: dict[int, str]) -> set[int]:
        """Return the addresses of operator delete: a known ``_ZdlPv…`` name, or a jump to free or to one of those."""
        found = {address for address, name in known.items() if name.startswith(_OPERATOR_DELETE)} | self.frees
        # In a fully static program free itself is linked in, so only a signature can name it.
        frees = {address for address, name in known.items() if name in _FREE_NAMES}
        found |= {address for address, target in self.jumps.items() if target in frees}
        for _ in range(2):  # sized delete -> delete -> free
            found |= {address for address, target in self.jumps.items() if target in found}
        return found


def class_names(path: str | os.PathLike[str], inputs: ClassInputs, known: dict[int, str],
                string_names: bool) -> dict[int, PresetName]:
    """Return RTTI names for the unnamed virtual functions of a linked file.

    ``known`` maps addresses to the names found so far (symbols, signatures, call keys).
    """
    elf = open_input(path).elf
    if elf is None or elf.is_relocatable:
        return {}
    space = make_space(elf)
    if not isinstance(space, LinkedSpace):
        return {}

    deletes = inputs.delete_functions(known)

    def calls_delete(address: int) -> bool:
        return address in inputs.imports_delete or any(target in deletes for target in inputs.targets.get(address, ()))

    try:
        found = find_virtual_functions(space, inputs.starts, calls_delete)
    except MemoryError:  # a type name built to demangle to gigabytes, past the length limits
        logger.warning("%s: C++ type names too large to read; virtual functions are left to the model", path)
        return {}
    names = {}
    for address, function in found.items():
        if address in inputs.named or address in known:
            continue
        if function.kind != KIND_METHOD:
            names[address] = PresetName(function.name, DESTRUCTOR_CONFIDENCE, SOURCE_RTTI)
        elif string_names and address in inputs.strings:
            names[address] = PresetName(f"{function.class_name}::{inputs.strings[address]}",
                                        STRING_METHOD_CONFIDENCE, SOURCE_RTTI)
        else:
            names[address] = PresetName(function.name, SLOT_METHOD_CONFIDENCE, SOURCE_RTTI)
    logger.info("RTTI named %d virtual functions", len(names))
    return names
