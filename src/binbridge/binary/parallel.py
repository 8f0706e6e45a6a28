"""Extract the members of a large archive in worker processes, keeping the archive's order.

The parent parses the ELF headers of every member once and scans their
symbols. The workers are forked, so they inherit the parsed members, the
symbols and the archive's memory map without pickling. Each worker extracts
a run of consecutive members and sends back the functions, or what a caller's
transform makes of them, and ``imap`` returns the runs in order.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from binbridge.binary.archive import Archive
from binbridge.binary.elf import ElfFile
from binbridge.binary.members import (
    ArchiveSymbols,
    member_elves,
    named_members,
    parse_member,
    require_x86_64_member,
    scan_archive_symbols,
)
from binbridge.binary.records import ExtractedFunction

logger = logging.getLogger(__name__)

# Below this many archive bytes the cost of starting workers exceeds the gain.
MIN_PARALLEL_BYTES = 2 << 20
# Runs of about equal bytes per worker. With more runs the last ones end closer
# together, and each run costs one task message and one result message.
RUNS_PER_JOB = 8

RunTransform = Callable[[list[ExtractedFunction]], Any]


@dataclass(frozen=True)
class _WorkerTask:
    """Settings shared by all runs of one extraction, handed to each worker once by _start_worker."""

    members: list[ElfFile | str]
    """parse_member's result for each member, in archive order."""
    symbols: ArchiveSymbols
    with_assembly: bool
    max_instructions: int | None
    transform: RunTransform | None


# Per-process state of a worker, written once by the pool initializer and read by _extract_run.
_task: _WorkerTask | None = None


def _start_worker(task: _WorkerTask) -> None:
    global _task
    _task = task


def _run_result(task: _WorkerTask, first: int, last: int) -> Any:
    from binbridge.binary.extract import member_functions

    elves = member_elves(task.members[first:last])
    functions = list(member_functions(elves, task.symbols, task.with_assembly, task.max_instructions))
    return functions if task.transform is None else task.transform(functions)


def _extract_run(bounds: tuple[int, int]) -> Any:
    return _run_result(_task, *bounds)


def balanced_runs(sizes: list[int], runs: int) -> list[tuple[int, int]]:
    """Split items into at most ``runs`` consecutive [first, last) runs of about equal total size."""
    total = sum(sizes)
    bounds = []
    first = 0
    filled = 0
    for index, size in enumerate(sizes):
        filled += size
        # Close a run when the items so far reach its share of the total.
        if len(bounds) + 1 < runs and filled * runs >= total * (len(bounds) + 1) and index + 1 < len(sizes):
            bounds.append((first, index + 1))
            first = index + 1
    if first < len(sizes):
        bounds.append((first, len(sizes)))
    return bounds


def parallel_member_runs(path: str, archive: Archive, jobs: int, with_assembly: bool, max_instructions: int | None,
                         transform: RunTransform | None = None) -> Iterator[Any]:
    """Yield the functions of each run of consecutive members, or ``transform`` of them, in archive order.

    ``jobs`` processes extract the runs. A small archive is extracted in this
    process, run by run. Only transform's results travel between processes,
    so a transform that formats the functions as text saves pickling them.
    The members are parsed and their symbols scanned before this returns, so
    an archive without x86-64 members raises here.
    """
    require_x86_64_member(archive)
    members = [parse_member(name, member) for name, member in named_members(archive)]
    symbols = scan_archive_symbols(member_elves(members, warn=False))
    sizes = [len(parsed.data) if isinstance(parsed, ElfFile) else 0 for parsed in members]
    bounds = balanced_runs(sizes, jobs * RUNS_PER_JOB)
    task = _WorkerTask(members, symbols, with_assembly, max_instructions, transform)
    small = len(archive.data) < MIN_PARALLEL_BYTES or len(members) < 2 * jobs
    if small or "fork" not in multiprocessing.get_all_start_methods():
        return (_run_result(task, first, last) for first, last in bounds)
    logger.debug("extracting %d members of %s in %d processes, %d runs", len(members), path, jobs, len(bounds))
    return _pool_runs(task, jobs, bounds)


def _pool_runs(task: _WorkerTask, jobs: int, bounds: list[tuple[int, int]]) -> Iterator[Any]:
    # fork: workers inherit the loaded modules, the parsed members and the symbols without pickling them.
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs, initializer=_start_worker, initargs=(task,)) as pool:
        yield from pool.imap(_extract_run, bounds)


def parallel_member_functions(path: str, archive: Archive, jobs: int, with_assembly: bool,
                              max_instructions: int | None) -> Iterator[ExtractedFunction]:
    """Yield the functions of every member, extracted by ``jobs`` processes (sequentially for small archives)."""
    runs = parallel_member_runs(path, archive, jobs, with_assembly, max_instructions)
    return (function for functions in runs for function in functions)
