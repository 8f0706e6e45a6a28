"""Interactive naming: paste assembly (ended by an empty line) or type ``BINARY ADDRESS``."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from binbridge.binary import (
    BinaryInfo,
    describe_binary,
    find_function,
    function_names,
    normalize_assembly_text,
    read_only_strings,
)
from binbridge.errors import BinbridgeError, InputError
from binbridge.inference.predictor import NamePredictor
from binbridge.data.signatures import SOURCE_SIGNATURE
from binbridge.inference.string_names import SOURCE_STRING

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
    info: BinaryInfo | None = None
    """That binary's kind and SONAME, which decide its library prefix."""
    symbol_names: list[str] = field(default_factory=list)
    """The names the binary's functions keep (a stripped library's exports), which show its prefix."""
    strings: list[str] = field(default_factory=list)
    """The binary's read-only strings, whose identifiers show the prefix when it keeps no names."""


def parse_address(text: str) -> int:
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text, 16)
    except ValueError as error:
        raise InputError(None, f"invalid address {text!r}", "write it in hex, such as 0x4011a0") from error


def read_query(read_line: Callable[[], str | None]) -> InteractiveQuery | None:
    """Read one query; return None at end of input."""
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
                return InteractiveQuery(function.assembly, f"{parts[0]} 0x{function.address:x}", parts[0],
                                        describe_binary(parts[0]), function_names(parts[0]),
                                        read_only_strings(parts[0]))
            if len(parts) == 2 and "/" in parts[0] and _HEX_ADDRESS.fullmatch(parts[1]):
                # No instruction has a slash in its mnemonic, so this is a mistyped BINARY ADDRESS.
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
    write(PROMPT + "\n")
    while True:
        try:
            query = read_query(read_line)
            if query is None:
                return served
            info = query.info
            prefix = (predictor.prefix_for(query.binary, info.soname, info.kind, query.symbol_names, query.strings) if info
                      else predictor.prefix_for(None))
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
