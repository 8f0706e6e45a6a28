"""Name functions by their code and the names of the functions they call (call keys).

``binbridge name`` reads a binary twice. During the first read, ``CallContext`` notes
what each function is already known as: its symbol, its start-up role or a signature
match. For each function still without a name, it notes the code part of its call key
and the targets of its ``FUNC`` branches. ``resolve`` then looks up the call key of every
function whose callees all have names, adds the names it finds, and repeats until a
round names nothing new. A chain of wrappers (``quote`` -> ``quote_n`` ->
``quote_n_mem``) is named one link per round.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from binbridge.binary.records import ExtractedFunction
from binbridge.data.call_keys import UNKNOWN_CALLEE, CallKeyPrefix, call_key_prefix, internal_targets, lookup_callee
from binbridge.data.signatures import SignatureIndex, SignatureMatch, instruction_count, linked_text

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    address: int
    prefix: CallKeyPrefix
    targets: list[int]


@dataclass
class CallContext:
    """Names known so far in one binary and the functions that call keys may still name."""

    signatures: Sequence[SignatureIndex]
    known: dict[int, str] = field(default_factory=dict)
    """Address -> name from a symbol, the start-up code or a signature."""
    matches: dict[int, SignatureMatch] = field(default_factory=dict)
    """Address -> signature match of a function without a kept name, so the second read need not look it up again."""
    pending: list[_Pending] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return any(index.calls for index in self.signatures)

    def add(self, function: ExtractedFunction, name: str | None) -> None:
        """Record one function of the first read. ``name`` is its symbol or start-up name, if it keeps one."""
        if name:
            self.known[function.address] = name
            return
        match = next((m for m in (index.lookup(function.assembly) for index in self.signatures) if m), None)
        if match is not None:
            self.known[function.address] = match.name
            self.matches[function.address] = match
            return
        targets = internal_targets(function.outside_branches)
        text = linked_text(function.assembly)
        prefix = call_key_prefix(text, instruction_count(text), len(targets))
        if prefix is not None:
            self.pending.append(_Pending(function.address, prefix, targets))

    def resolve(self, cold_parents: dict[int, int]) -> dict[int, SignatureMatch]:
        """Return the call-key names of pending functions, by address (``cold_parents``: part -> function)."""
        found: dict[int, SignatureMatch] = {}
        pending, rounds = self.pending, 0
        while pending:
            rounds += 1
            waiting, named_before = [], len(found)
            for item in pending:
                callees = [lookup_callee(item.address, target, self.known.get, cold_parents.get)
                           for target in item.targets]
                if UNKNOWN_CALLEE in callees:
                    waiting.append(item)
                    continue
                match = next((m for m in (index.lookup_calls(item.prefix, callees) for index in self.signatures)
                              if m), None)
                if match is not None:  # with every callee known and no match, the key can never match
                    found[item.address] = match
                    self.known[item.address] = match.name
            # Only a name found in this round can complete another function's callees.
            pending = waiting if len(found) > named_before else []
        self.pending = []
        logger.info("call keys named %d functions in %d rounds", len(found), rounds)
        return found
