"""Rows of installed, stripped Debian binaries, named from the detached debug files of -dbg packages.

A debug file is found by the stripped file's GNU build id
(``/usr/lib/debug/.build-id/ab/cdef....debug``) or, for older packages, by
its path under /usr/lib/debug. Functions come from the stripped file
(.eh_frame); names come from the debug file's .symtab by address.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from binbridge.binary import iter_functions
from binbridge.binary.errors import BinaryFormatError
from binbridge.corpus.elfinfo import build_id, function_names_by_address, is_elf_file, open_elf
from binbridge.corpus.rows import RowContext, named_records
from binbridge.data.schema import FunctionRecord
from binbridge.errors import InputError

logger = logging.getLogger(__name__)

DEBUG_ROOT = Path("/usr/lib/debug")


@dataclass(frozen=True)
class DebugPair:
    """A stripped file and the debug file that describes it."""

    stripped: Path
    debug: Path
    build_id: str | None


def debug_pairs(files: list[Path], debug_root: Path = DEBUG_ROOT) -> list[DebugPair]:
    """Match the x86-64 ELF files among ``files`` with their debug files, leaving out files without one."""
    pairs = []
    seen: set[str] = set()
    for path in files:
        real = os.path.realpath(path)
        if real in seen or not is_elf_file(Path(real)):
            continue
        seen.add(real)
        try:
            identifier = build_id(open_elf(real))
        except (InputError, BinaryFormatError) as error:
            logger.debug("skipping %s: %s", path, error)
            continue
        debug = _debug_file(path, real, identifier, debug_root)
        if debug is None:
            logger.debug("%s: no debug file (build id %s)", path, identifier)
            continue
        pairs.append(DebugPair(Path(path), debug, identifier))
    return pairs


def _debug_file(path: Path, real: str, identifier: str | None, debug_root: Path) -> Path | None:
    candidates = []
    if identifier and len(identifier) > 2:
        candidates.append(debug_root / ".build-id" / identifier[:2] / f"{identifier[2:]}.debug")
    for name in (str(path), real):
        candidates.append(debug_root / name.lstrip("/"))
    for candidate in candidates:
        if not candidate.is_file():
            continue
        if identifier is not None:
            try:
                if build_id(open_elf(candidate)) not in (identifier, None):
                    logger.warning("%s: build id differs from %s; the debug package may not match the installed "
                                   "version, so it is left out", candidate, path)
                    continue
            except (InputError, BinaryFormatError) as error:
                logger.warning("skipping debug file %s: %s", candidate, error)
                continue
        return candidate
    return None


def debug_pair_records(pair: DebugPair, context: RowContext, dropped: Counter) -> list[FunctionRecord]:
    """Build the rows of one stripped file, named from its debug file."""
    names = function_names_by_address(open_elf(pair.debug))
    if not names:
        dropped["debug file without function symbols"] += 1
        return []
    return named_records(iter_functions(pair.stripped), names, context, dropped)
