"""C++ classes from run-time type information: which functions are a class's virtual methods.

Stripping removes symbols but not RTTI. Under the Itanium C++ ABI that GCC and
Clang follow on Linux, each polymorphic class has

* a ``type_info`` object: a pointer to the vtable of a ``type_info`` class, then a
  pointer to the class's mangled type name (``N4gold6OutputE``), a string that
  stays in ``.rodata``;
* a vtable: the offset to the top of the object (0 in the primary vtable,
  negative in the vtables of further bases), a pointer to the ``type_info``,
  then one pointer per virtual function.

So each function that a vtable points at is a virtual method of that vtable's
class. A class inherits the slots that it does not override, so a function in
several vtables belongs to the class with the shortest one, its most basic
class. A virtual destructor takes two slots, the complete destructor and then
the deleting destructor, which calls ``operator delete``.

In position-independent files the vtable words are written by RELATIVE
relocations (``LinkedSpace.pointer_words``); in other files they are the
section's bytes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from binbridge.binary.elf import SHT_NOBITS
from binbridge.binary.linked import LinkedSpace
from binbridge.binary.space import read_string
from binbridge.data.demangle import demangle

logger = logging.getLogger(__name__)

# A mangled class name as type_info keeps it: a nested name (N...E), a std:: name (St...) or a
# length-prefixed plain name. Local classes (Z...) are left out.
_TYPE_NAME = re.compile(r"(?:N|St|[1-9])[A-Za-z0-9_]*")
# Back-references (S_, S0_, ...) let a short mangled name demangle to gigabytes, so longer or more
# referential names are skipped. NOTE: this skips 7 of the 5,139 type names of libLLVM-15 (deep
# templates with up to 44 back-references) and none of ld.gold's 794.
MAX_TYPE_NAME = 512
MAX_BACK_REFERENCES = 16
MAX_CLASS_NAME = 8192
_BACK_REFERENCE = re.compile(r"S[0-9A-Z]*_")
_TYPEINFO_PREFIX = "typeinfo name for "
PURE_VIRTUAL = ("<__cxa_pure_virtual>", "<__cxa_deleted_virtual>")
KIND_METHOD = "method"
KIND_DESTRUCTOR = "destructor"
KIND_DELETING_DESTRUCTOR = "deleting destructor"


@dataclass(frozen=True)
class VirtualFunction:
    """A function that a class's primary vtable points at."""

    address: int
    class_name: str
    """Demangled class name, such as ``gold::Output_section``."""
    slot: int
    """Index in the vtable's function pointers, from 0."""
    kind: str
    """``method``, ``destructor`` or ``deleting destructor``."""

    @property
    def name(self) -> str:
        """A name for the function: ``gold::Output::~Output``, or ``gold::Output::vfunc_3`` for a method."""
        short = _unqualified_class(self.class_name)
        if self.kind == KIND_DESTRUCTOR:
            return f"{self.class_name}::~{short}"
        if self.kind == KIND_DELETING_DESTRUCTOR:
            return f"{self.class_name}::~{short}_deleting"
        return f"{self.class_name}::vfunc_{self.slot}"


@dataclass(frozen=True)
class _Vtable:
    class_name: str
    typeinfo: int
    slots: tuple[int | str | None, ...]


def find_virtual_functions(space: LinkedSpace, function_starts: set[int],
                           calls_delete: Callable[[int], bool]) -> dict[int, VirtualFunction]:
    """Map the address of each function that a primary vtable points at to its class and slot.

    ``function_starts`` are the file's function addresses. A vtable's slots end at the first
    word that is not one of them, a pure virtual placeholder or an empty slot. ``calls_delete(address)`` is true
    for a function that calls ``operator delete``, which marks a deleting destructor.
    """
    words, symbolic = _data_words(space)
    names = _type_names(space, words, symbolic)
    if not names:
        return {}
    vtables = _vtables(words, symbolic, names, function_starts)
    depth = _inheritance_depths(words, symbolic, names)
    owners: dict[int, tuple[tuple, VirtualFunction]] = {}
    for table in vtables:
        kinds = _slot_kinds(table, calls_delete)
        for slot, target in enumerate(table.slots):
            if isinstance(target, int):
                rank = (depth.get(table.typeinfo, 0), len(table.slots), table.class_name)
                current = owners.get(target)
                if current is None or rank < current[0]:
                    owners[target] = (rank, VirtualFunction(target, table.class_name, slot, kinds[slot]))
    found = {address: function for address, (_, function) in owners.items()}
    logger.info("RTTI: %d classes, %d vtables, %d virtual functions", len(names), len(vtables), len(found))
    return found


def _inheritance_depths(words: _Words, symbolic: dict[int, int | str], names: dict[int, str]) -> dict[int, int]:
    """Count each class's bases through the first base that its type_info names.

    In a single-base type_info the base's type_info follows the name. In a multiple-base one,
    flags and a count follow the name, then the first base. A method that the vtables of several
    classes list belongs to the class with the fewest bases.
    """
    def word(address: int) -> int | str | None:
        return symbolic.get(address, words.value(address))

    parent = {}
    for typeinfo in names:
        for offset in (16, 24):
            base = word(typeinfo + offset)
            if isinstance(base, int) and base in names and base != typeinfo:
                parent[typeinfo] = base
                break
    depths = {}
    for typeinfo in names:
        count, current, seen = 0, typeinfo, {typeinfo}
        while current in parent and parent[current] not in seen:
            current = parent[current]
            seen.add(current)
            count += 1
        depths[typeinfo] = count
    return depths


def _slot_kinds(table: _Vtable, calls_delete: Callable[[int], bool]) -> list[str]:
    """Find the destructor pair among a vtable's slots.

    The deleting destructor calls operator delete, and the ABI puts the complete destructor in
    the slot just before it. A complete destructor that frees members calls operator delete
    too, so the deleting destructor is the last slot of the first run of slots that call it.
    """
    slots = table.slots
    deletes = [isinstance(target, int) and calls_delete(target) for target in slots]
    kinds = [KIND_METHOD] * len(slots)
    for slot in range(len(slots)):
        if deletes[slot] and not (slot + 1 < len(slots) and deletes[slot + 1]):
            kinds[slot] = KIND_DELETING_DESTRUCTOR
            if slot > 0:
                kinds[slot - 1] = KIND_DESTRUCTOR
            break
    return kinds


@dataclass
class _Words:
    """The 8-byte words of every allocated data section, by address."""

    starts: list[int]
    arrays: list[np.ndarray]

    def value(self, address: int) -> int | None:
        for start, array in zip(self.starts, self.arrays):
            index = (address - start) // 8
            if 0 <= index < len(array) and address % 8 == start % 8:
                return int(array[index])
        return None


def _data_words(space: LinkedSpace) -> tuple[_Words, dict[int, int | str]]:
    starts, arrays, symbolic = [], [], {}
    for section in space.elf.sections:
        if not section.is_alloc or section.is_executable or section.type == SHT_NOBITS or section.size < 16:
            continue
        array, symbols = space.pointer_words(section)
        if len(array):
            starts.append(section.address)
            arrays.append(array)
            symbolic.update(symbols)
    return _Words(starts, arrays), symbolic


def _type_names(space: LinkedSpace, words: _Words, symbolic: dict[int, int | str]) -> dict[int, str]:
    """Find type_info objects: map each one's address to its demangled class name."""
    found: dict[int, str] = {}
    strings: dict[int, str | None] = {}
    for start, array in zip(words.starts, words.arrays):
        if len(array) < 2:
            continue
        # Word k+1 must point into a read-only string section for word k to start a type_info. In a
        # shared object an exported name string is reached through a symbol relocation instead.
        candidates = set(np.flatnonzero((array[1:] >= space.low) & (array[1:] < space.high)).tolist())
        candidates |= {(address - 8 - start) // 8 for address, target in symbolic.items()
                       if isinstance(target, int) and start + 8 <= address < start + 8 * len(array)
                       and (address - start) % 8 == 0}
        for index in sorted(candidates):
            address = start + 8 * index
            first = symbolic.get(address, int(array[index]))
            if isinstance(first, str):
                if "type_info" not in first:
                    continue
            elif not first or space.region(first) is None:
                continue
            pointer = symbolic.get(address + 8, int(array[index + 1]))
            if not isinstance(pointer, int):
                continue
            if pointer not in strings:
                strings[pointer] = _class_name(space, pointer)
            if strings[pointer]:
                found[address] = strings[pointer]
    return found


def _class_name(space: LinkedSpace, address: int) -> str | None:
    """Return the demangled class of the mangled type name at an address in .rodata, or None."""
    region = space.region(address)
    if region is None or not region.section.name.startswith(".rodata") or region.section.is_writable:
        return None
    text = read_string(space.section_bytes(region.section), address - region.start)
    return class_of_type_name(text) if text else None


def class_of_type_name(text: str) -> str | None:
    """Demangle a type_info's name string (``N4gold6OutputE`` -> ``gold::Output``), or return None.

    Names that are too long, or have enough back-references to expand enormously, are rejected.
    """
    if text.startswith("*"):  # GCC marks names that are local to one file (anonymous namespaces)
        text = text[1:]
    if (len(text) > MAX_TYPE_NAME or not _TYPE_NAME.fullmatch(text)
            or len(_BACK_REFERENCE.findall(text)) > MAX_BACK_REFERENCES):
        return None
    demangled = demangle("_ZTS" + text)
    if not demangled or not demangled.startswith(_TYPEINFO_PREFIX) or len(demangled) > MAX_CLASS_NAME:
        return None
    return demangled[len(_TYPEINFO_PREFIX):]


def _vtables(words: _Words, symbolic: dict[int, int | str], names: dict[int, str],
             function_starts: set[int]) -> list[_Vtable]:
    """Find primary vtables: offset to top 0, a known type_info, then at least one function pointer."""
    typeinfos = np.array(sorted(names), dtype="<u8")
    # In a shared object an exported class's type_info pointer is a symbol relocation (R_X86_64_64).
    symbolic_hits = {address for address, target in symbolic.items() if isinstance(target, int) and target in names}
    tables = []
    for start, array in zip(words.starts, words.arrays):
        hits = set(np.flatnonzero(np.isin(array, typeinfos)).tolist())
        hits |= {(address - start) // 8 for address in symbolic_hits
                 if start <= address < start + 8 * len(array) and (address - start) % 8 == 0}
        for index in sorted(hits):
            if index == 0 or int(array[index - 1]) != 0 or (start + 8 * (index - 1)) in symbolic:
                continue
            typeinfo = symbolic.get(start + 8 * index, int(array[index]))
            slots = _slots(start, array, index + 1, symbolic, function_starts, names)
            if any(isinstance(slot, int) for slot in slots):
                tables.append(_Vtable(names[typeinfo], typeinfo, slots))
    return tables


def _slots(start: int, array: np.ndarray, first: int, symbolic: dict[int, int | str],
           function_starts: set[int], names: dict[int, str]) -> tuple[int | str | None, ...]:
    """Read a vtable's function pointers. A 0 (an abstract class's destructor slot) reads as None.

    The slots end at the first word that is neither a function, a pure virtual placeholder nor 0,
    or at a 0 that starts the next vtable (0, then a type_info pointer). Trailing zeros are dropped.
    """
    slots: list[int | str | None] = []
    for index in range(first, len(array)):
        target = symbolic.get(start + 8 * index, int(array[index]))
        if target in PURE_VIRTUAL or (isinstance(target, int) and target in function_starts):
            slots.append(target)
        elif target == 0 and index + 1 < len(array) and \
                symbolic.get(start + 8 * (index + 1), int(array[index + 1])) not in names:
            slots.append(None)
        else:
            break
    while slots and slots[-1] is None:
        slots.pop()
    return tuple(slots)


def _unqualified_class(class_name: str) -> str:
    """``gold::Output_section`` -> ``Output_section``; ``ns::Box<int>`` -> ``Box``."""
    depth, cut = 0, 0
    for position, character in enumerate(class_name):
        if character == "<":
            depth += 1
        elif character == ">":
            depth -= 1
        elif depth == 0 and class_name.startswith("::", position):
            cut = position + 2
    short = class_name[cut:]
    return short.split("<", 1)[0]
