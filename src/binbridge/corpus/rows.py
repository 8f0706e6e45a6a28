"""Dataset rows from extracted functions: name clean-up, stub filtering and per-unit results."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from binbridge.binary import ExtractedFunction
from binbridge.data.call_keys import callees_text, corpus_callee, internal_targets
from binbridge.data.names import split_clone_suffix
from binbridge.data.schema import FunctionRecord

# Start-up and tear-down code that crt1.o, crti.o and crtbegin.o add to every linked program.
CRT_STUBS = frozenset({
    "_start", "_init", "_fini", "deregister_tm_clones", "register_tm_clones", "__do_global_dtors_aux",
    "frame_dummy", "_dl_relocate_static_pie",
})
CRT_PREFIXES = ("__libc_csu_",)

# Kinds of rows. Within a unit, deduplication keeps rows of earlier kinds: a relinked library function
# whose assembly equals its archive member's is kept as the relinked row, which looks like a real stripped binary.
ROW_KINDS = ("libs-relinked", "libs", "sdists", "debsrc", "programs", "dbg")


@dataclass(frozen=True)
class RowContext:
    """Column values shared by the rows of one input."""

    project: str
    opt_level: str
    drop_main: bool = False
    """Drop ``main``, which the relinked PIE's trivial main.c defines."""


@dataclass(frozen=True)
class InputFile:
    path: str
    sha256: str


@dataclass
class UnitResult:
    """Rows and bookkeeping of one unit of work (a library, a compiled package at one level, a debug package)."""

    source: str
    """Manifest source kind: libs, sdists, debsrc, programs or dbg."""
    package: str
    version: str
    project: str
    label: str
    rows: dict[str, list[FunctionRecord]] = field(default_factory=dict)
    """Rows per row kind (see ROW_KINDS)."""
    inputs: list[InputFile] = field(default_factory=list)
    resolved_version: str | None = None
    failures: list[str] = field(default_factory=list)
    """One line per failed step. The unit's other rows are kept."""
    dropped: Counter = field(default_factory=Counter)
    """Functions left out, by reason."""
    seconds: float = 0.0

    def add_rows(self, kind: str, records: Iterable[FunctionRecord]) -> None:
        self.rows.setdefault(kind, []).extend(records)

    @property
    def row_count(self) -> int:
        return sum(len(records) for records in self.rows.values())


def is_runtime_stub(name: str) -> bool:
    return name in CRT_STUBS or name.startswith(CRT_PREFIXES)


def make_record(function: ExtractedFunction, name: str | None, context: RowContext, dropped: Counter,
                source_code: str = "", callees: str = "") -> FunctionRecord | None:
    """Build the dataset row of one function, or return None (counting why) for a row to leave out."""
    if not name:
        dropped["unnamed"] += 1
        return None
    split = split_clone_suffix(name)
    if is_runtime_stub(split.base) or (context.drop_main and split.base == "main"):
        dropped["runtime stub"] += 1
        return None
    if not function.assembly.strip():
        dropped["empty assembly"] += 1
        return None
    return FunctionRecord(
        function_name=split.base,
        assembly=function.assembly,
        binary=function.binary,
        address=f"0x{function.address:x}",
        size=function.size,
        arch=function.arch,
        project=context.project,
        opt_level=context.opt_level,
        source_code=source_code,
        clone_suffix=split.clone_suffix,
        callees=callees,
    )


def named_records(functions: Iterable[ExtractedFunction], names: dict[int, str], context: RowContext,
                  dropped: Counter, source_for: Callable[[int], str] | None = None) -> list[FunctionRecord]:
    """Build rows for the functions of a stripped file, naming each by its address in ``names``.

    A function that ``names`` lacks keeps the name that extraction found (from
    .dynsym), if any. source_for maps an address to the function's source text.
    Each row's ``callees`` lists the names of the functions that it calls and jumps to
    (``binbridge.data.call_keys``).
    """
    records = []
    for function in functions:
        name = names.get(function.address) or function.name
        source = source_for(function.address) if source_for is not None and name else ""
        callees = [corpus_callee(function.address, name or "", target, names)
                   for target in internal_targets(function.outside_branches)]
        record = make_record(function, name, context, dropped, source, callees_text(callees))
        if record is not None:
            records.append(record)
    return records
