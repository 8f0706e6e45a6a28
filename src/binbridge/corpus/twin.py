"""Rows of a relinked, stripped PIE, named and source-annotated from its unstripped twin."""

from __future__ import annotations

import logging
from collections import Counter

from binbridge.binary import iter_functions
from binbridge.corpus.dwarf import DwarfIndex
from binbridge.corpus.elfinfo import function_names_by_address, open_elf
from binbridge.corpus.relink import LinkedTwin
from binbridge.corpus.rows import RowContext, named_records
from binbridge.corpus.source_text import function_source
from binbridge.data.schema import FunctionRecord

logger = logging.getLogger(__name__)


def twin_records(twin: LinkedTwin, context: RowContext, dropped: Counter, *,
                 with_source: bool = True) -> list[FunctionRecord]:
    """Extract the stripped copy and name its functions from the unstripped twin's .symtab by address.

    Functions are found in the stripped copy from .eh_frame, so code without
    call frame information (some hand-written assembly) is left out, as it
    would be for any stripped binary. With with_source, DWARF of the twin
    fills source_code where the source file is readable.
    """
    names = function_names_by_address(open_elf(twin.unstripped))
    source_for = None
    if with_source:
        index = DwarfIndex.from_elf(twin.unstripped)
        if len(index):
            def source_for(address: int) -> str:
                location = index.lookup(address)
                return function_source(location) if location is not None else ""
    records = named_records(iter_functions(twin.stripped), names, context, dropped, source_for)
    found = {int(record.address, 16) for record in records}
    missed = sum(1 for address in names if address not in found)
    if missed:
        logger.debug("%s: %d named functions of the twin are not rows of the stripped copy "
                     "(no FDE, or left out as stubs)", twin.stripped, missed)
    return records
