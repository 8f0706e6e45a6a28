"""Tie the cold parts of hot/cold split functions back to the functions they came from.

GCC at -O2 moves the rarely run blocks of a function (error paths, aborts)
into a separate ``foo.cold`` part in ``.text.unlikely``. A stripped binary
keeps an ``.eh_frame`` entry for each part, so the cold part looks like a
function of its own, often a few instructions that call ``abort``. Jumps
that ordinary functions do not make connect the two parts: conditional jumps
between them, and jumps into the middle of the other part. An unconditional
jump to the start of another function is a tail call, unless nothing calls
that function and it is a small block without a ``ret``: then it may be the
jumping function's cold part. The linker places ``.text.unlikely`` before
``.text``, so of two tied parts the lower one is the cold part.

A function that no call reaches and that such jumps tie to exactly one
function at a higher address is that function's cold part.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from binbridge.binary.records import BRANCH_CALL, BRANCH_JUMP, ExtractedFunction, OutsideBranch

# A cold part reached only by a tail-call-like jmp must be at most this many bytes. On the stripped
# binutils programs 95% of such true parts are within 51 bytes. In Lua 5.4 the rule had taken
# tail-called ordinary functions of 101 to 167 bytes for cold parts.
MAX_TAIL_JUMPED_PART = 64
_RETURN = re.compile(r"^(?:(?:rep|repz|bnd|notrack) )?ret", re.MULTILINE)


@dataclass(frozen=True)
class FunctionSpan:
    """The address range of one function, the calls and jumps that leave it, and whether it returns."""

    address: int
    size: int
    outside_branches: tuple[OutsideBranch, ...] = ()
    returns: bool = True
    """Whether the function has a ``ret`` instruction; cold parts usually end in a noreturn call or a jump."""


def span_of(function: ExtractedFunction) -> FunctionSpan:
    return FunctionSpan(function.address, function.size, function.outside_branches,
                        bool(_RETURN.search(function.assembly)))


def find_cold_parents(spans: Sequence[FunctionSpan], below: int | None = None) -> dict[int, int]:
    """Map the address of each cold part to the address of the function it was split from.

    ``spans`` are the functions of one linked file. ``below`` is the file's entry point, if any.
    GNU ld puts ``.text.unlikely`` before the ``.text`` that contains ``_start``, so a part above
    the entry point means another layout (gold ``--no-text-reorder``, for one). There the
    lower-part rule would pick the hot part, so no part above ``below`` is reported.

    NOTE: a shared object without an entry point gets no such check, so one linked with cold
    code after hot code could have functions reported as cold parts (not seen in tests).
    """
    ordered = sorted(spans, key=lambda span: span.address)
    starts = [span.address for span in ordered]
    by_address = {span.address: span for span in ordered}
    called: set[int] = set()
    ties: dict[int, set[int]] = defaultdict(set)
    tail_jumps: list[tuple[int, int]] = []
    for span in ordered:
        for branch in span.outside_branches:
            other = _containing(ordered, starts, branch.target)
            if other is None or other.address == span.address:
                continue
            if branch.kind == BRANCH_CALL:
                called.add(other.address)
            elif branch.kind == BRANCH_JUMP and branch.target == other.address:
                tail_jumps.append((span.address, other.address))
            else:
                _tie(ties, span.address, other.address)
    for source, target in tail_jumps:
        part = by_address[target]
        if target not in called and not part.returns and part.size <= MAX_TAIL_JUMPED_PART:
            ties[target].add(source)  # only the jump's target can be the cold part
    cold = {}
    for part, tied in ties.items():
        if part in called or len(tied) != 1:
            continue
        parent = next(iter(tied))
        if parent > part and (below is None or part < below):
            cold[part] = parent
    return {part: parent for part, parent in cold.items() if parent not in cold}


def _tie(ties: dict[int, set[int]], first: int, second: int) -> None:
    ties[first].add(second)
    ties[second].add(first)


def _containing(ordered: list[FunctionSpan], starts: list[int], address: int) -> FunctionSpan | None:
    position = bisect.bisect_right(starts, address) - 1
    if position < 0:
        return None
    span = ordered[position]
    return span if address < span.address + span.size else None
