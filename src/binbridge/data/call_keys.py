"""Call-context keys: a function's code together with the names of the functions it calls.

A wrapper such as gnulib's ``quote (arg)``, which is ``quote_n (0, arg)``, compiles to two or
three instructions that end in ``jmp FUNC``. Its code alone names nothing. Once a signature
has named the function it jumps to, though, the pair (code, callee names) is as specific as
a long function's code: disassemblers propagate library names along the call graph this way.

The callee names of a function are listed in the order of its ``FUNC`` branches
(``OutsideBranch.internal``): the callee's base name (clone suffixes dropped), ``SELF`` for a
recursive call, ``COLD`` for a jump into the function's own cold part (``foo`` -> ``foo.cold``),
and ``?`` for a target without a known name. A function with an unknown callee has no key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from binbridge.binary.normalize import BRANCH_MNEMONICS
from binbridge.binary.records import OutsideBranch
from binbridge.data.names import split_clone_suffix

SELF_CALLEE = "SELF"
COLD_CALLEE = "COLD"
UNKNOWN_CALLEE = "?"
_PLACEHOLDERS = frozenset({SELF_CALLEE, COLD_CALLEE})
# A single ``jmp FUNC`` is an alias or a thunk: it carries only its target's name.
MIN_CALL_INSTRUCTIONS = 2
_KEY_HEX_DIGITS = 16


def internal_targets(branches: Sequence[OutsideBranch]) -> list[int]:
    """Return the targets of the branches that the assembly shows as ``FUNC``, in order."""
    return [branch.target for branch in branches if branch.internal]


def func_branch_count(assembly: str) -> int:
    """Count the branch lines whose operand is ``FUNC`` (``call FUNC``, ``bnd jmp FUNC``, ``je FUNC``, ...)."""
    count = 0
    for line in assembly.splitlines():
        if line.endswith(" FUNC"):
            words = line.split()
            count += len(words) >= 2 and words[-2] in BRANCH_MNEMONICS
    return count


def corpus_callee(own_address: int, own_name: str, target: int, names: dict[int, str]) -> str:
    """Name one callee from a symbol table (``names``: address -> symbol), as call keys expect."""
    if target == own_address:
        return SELF_CALLEE
    name = names.get(target)
    if not name:
        return UNKNOWN_CALLEE
    callee = split_clone_suffix(name)
    if ".cold" in callee.clone_suffix:
        return COLD_CALLEE if callee.base == split_clone_suffix(own_name).base else UNKNOWN_CALLEE
    return callee.base


def lookup_callee(own_address: int, target: int, known: Callable[[int], str | None],
                  cold_parent: Callable[[int], int | None]) -> str:
    """Name one callee from what is known about a stripped binary: names found so far and cold parts."""
    if target == own_address:
        return SELF_CALLEE
    if cold_parent(target) == own_address:
        return COLD_CALLEE
    name = known(target)
    return split_clone_suffix(name).base if name else UNKNOWN_CALLEE


def callees_text(callees: Sequence[str]) -> str:
    """Write the dataset's ``callees`` cell: names separated by spaces (names contain none)."""
    return " ".join(callees)


def parse_callees(text: str) -> list[str]:
    return text.split()


class CallKeyPrefix:
    """The hashed code part of a call key, kept so that callee names can be added as they become known."""

    __slots__ = ("_hash",)

    def __init__(self, linked_assembly: str) -> None:
        self._hash = hashlib.sha256(linked_assembly.encode("utf-8", "surrogatepass"))
        self._hash.update(b"\n\0")

    def key(self, callees: Sequence[str]) -> str | None:
        """Return the call key for these callee names, or None when one is unknown or none is a real name."""
        if UNKNOWN_CALLEE in callees or all(callee in _PLACEHOLDERS for callee in callees):
            return None  # SELF and COLD alone gate nothing: no signature has vouched for the code
        digest = self._hash.copy()
        digest.update(" ".join(callees).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:_KEY_HEX_DIGITS]


def call_key_prefix(linked_assembly: str, instructions: int, callee_count: int) -> CallKeyPrefix | None:
    """Return the code part of a call key, or None for a function that gets none.

    ``linked_assembly`` is the normalised text as a linked file prints it (``signatures.linked_text``),
    ``instructions`` its instruction count and ``callee_count`` the number of ``FUNC`` branches.
    """
    if callee_count < 1 or instructions < MIN_CALL_INSTRUCTIONS:
        return None
    return CallKeyPrefix(linked_assembly)
