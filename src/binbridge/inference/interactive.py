"""Interactive naming: paste assembly (ended by an empty line) or type ``BINARY ADDRESS``."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from binbridge.binary import (
    BinaryInfo,
    describe_binary,
    find_function,
    function_names,
    normalize_assembly_text,
)
from binbridge.errors import BinbridgeError, InputError
from binbridge.inference.predictor import NamePredictor
from binbridge.data.signatures import SOURCE_SIGNATURE
from binbridge.inference.string_names import SOURCE_STRING
from binbridge.inference.word_names import prefix_strings

_HEX_ADDRESS = re.compile(r"(?:0x)?[0-9a-fA-F]+")

logger = logging.getLogger(__name__)

PROMPT = "assembly (end with an empty line) or BINARY ADDRESS; Ctrl-D quits"


@dataclass
class InteractiveQuery:
    """One request: either pasted assembly text or a function located in a binary."""

    assembly: str
    label: str
    binary: str | None = None
    """The binary that a BINARY ADDRESS query read; None for pasted assembly."""
    facts: BinaryFacts | None = None
    """The facts about that binary that decide its library prefix."""


@dataclass
class BinaryFacts:
    """The facts about one binary that its library prefix needs, and the file's identity when they were read."""

    stamp: tuple[int, ...]
    """Device, inode, size, modification and change times: a file copied over with its old time still differs."""
    path: str
    info: BinaryInfo
    """The binary's kind and SONAME, which decide whether it gets a library prefix."""
    symbol_names: list[str]
    """The names the binary's functions keep (a stripped library's exports), which show its prefix."""
    strings: Iterable[str]
    """The binary's read-only strings, whose identifiers show the prefix when it keeps no names."""
    _prefix: str | None = None
    _prefix_read: bool = False

    def prefix(self, predictor: NamePredictor) -> str | None:
        """Return the binary's library prefix (``NamePredictor.prefix_for``), worked out on the first call."""
        if not self._prefix_read:
            self._prefix = predictor.prefix_for(self.path, self.info.soname, self.info.kind, self.symbol_names,
                                                self.strings)
            self._prefix_read = True
        return self._prefix


class BinaryFactsCache:
    """The facts of each binary that BINARY ADDRESS queries name, read again only when the file changes."""

    def __init__(self) -> None:
        self.by_path: dict[str, BinaryFacts] = {}

    def get(self, path: str) -> BinaryFacts:
        status = os.stat(path)
        stamp = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
        key = os.path.realpath(path)
        facts = self.by_path.get(key)
        if facts is None or facts.stamp != stamp:
            names = function_names(path)
            facts = BinaryFacts(stamp, path, describe_binary(path), names, prefix_strings(path, names))
            self.by_path[key] = facts
        return facts


def parse_address(text: str) -> int:
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text, 16)
    except ValueError as error:
        raise InputError(None, f"invalid address {text!r}", "write it in hex, such as 0x4011a0") from error


def read_query(read_line: Callable[[], str | None],
               binaries: BinaryFactsCache | None = None) -> InteractiveQuery | None:
    """Read one query; return None at end of input. ``binaries`` caches what was read of each binary."""
    lines: list[str] = []
    while True:
        line = read_line()
        if line is None:
            break
        line = line.rstrip("\n")
        if not line.strip():
            if lines:
                break
            continue
        if not lines:
            parts = line.split()
            if len(parts) == 2 and os.path.exists(parts[0]):
                address = parse_address(parts[1])
                function = find_function(parts[0], address)
                facts = (binaries or BinaryFactsCache()).get(parts[0])
                return InteractiveQuery(function.assembly, f"{parts[0]} 0x{function.address:x}", parts[0], facts)
            if len(parts) == 2 and ("/" in parts[0] or "." in parts[0][1:]) and _HEX_ADDRESS.fullmatch(parts[1]):
                # No x86 mnemonic has a slash or an inner dot (assembler directives such as ".p2align 4" start with
                # one), so this is a mistyped BINARY ADDRESS ("missing.so 0x1120").
                raise InputError(parts[0], "file not found", "check the path of BINARY ADDRESS, or paste assembly")
        lines.append(line)
    if not lines:
        return None
    assembly = normalize_assembly_text("\n".join(lines))
    if not assembly.strip():
        raise InputError(None, "no instructions found in the pasted text",
                         "paste the function's instructions, then an empty line, or BINARY ADDRESS")
    return InteractiveQuery(assembly, "pasted assembly")


def run_interactive(predictor: NamePredictor, read_line: Callable[[], str | None], write: Callable[[str], None],
                    *, show_analysis: bool = False) -> int:
    """Serve queries until end of input; return the number of names printed."""
    served = 0
    binaries = BinaryFactsCache()
    write(PROMPT + "\n")
    while True:
        try:
            query = read_query(read_line, binaries)
            if query is None:
                return served
            prefix = predictor.prefix_for(None) if query.facts is None else query.facts.prefix(predictor)
            prediction = predictor.predict([query.assembly], prefixes=[prefix])[0]
        except BinbridgeError as error:
            write(f"error: {error}\n")
            continue
        except (ValueError, TypeError, UnicodeError) as error:
            # One bad paste must not end the session; report it and read the next query.
            logger.warning("query failed: %s", error)
            write(f"error: cannot read this input ({type(error).__name__}: {error}); paste another function\n")
            continue
        if show_analysis and prediction.analysis:
            write(f"analysis: {prediction.analysis}\n")
        origin = {SOURCE_STRING: "\tfrom a __func__ string",
                  SOURCE_SIGNATURE: "\tknown function (signature)"}.get(prediction.source, "")
        write(f"{prediction.name or '(no name)'}\t{prediction.confidence:.3f}{origin}\n")
        served += 1
