"""Extract the members of a large archive in worker processes, keeping the archive's order.

The parent scans the archive's symbols once. Each worker opens the archive by
path as a memory map, so the bytes are shared. It renders a run of
consecutive members and sends the functions back, and ``imap`` returns the
runs in order.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass

from binbridge.binary.archive import Archive
from binbridge.binary.inputs import open_input
from binbridge.binary.members import ArchiveSymbols
from binbridge.binary.records import ExtractedFunction

logger = logging.getLogger(__name__)

# Below this many archive bytes the cost of starting workers exceeds the gain.
MIN_PARALLEL_BYTES = 2 << 20
RUNS_PER_JOB = 4


@dataclass(frozen=True)
class _WorkerTask:
    """Settings shared by all runs of one extraction, handed to each worker once by _start_worker."""

    path: str
    symbols: ArchiveSymbols
    with_assembly: bool
    max_instructions: int | None


# Per-process state of a worker, written once by the pool initializer and read by _extract_run.
_task: _WorkerTask | None = None
_archive: Archive | None = None


def _start_worker(task: _WorkerTask) -> None:
    global _task, _archive
    _task = task
    _archive = open_input(task.path).archive


def _extract_run(bounds: tuple[int, int]) -> list[ExtractedFunction]:
    from binbridge.binary.extract import member_functions

    first, last = bounds
    return list(member_functions(_archive, _task.symbols, _task.with_assembly, _task.max_instructions, first, last))


def parallel_member_functions(path: str, archive: Archive, symbols: ArchiveSymbols, jobs: int, with_assembly: bool,
                              max_instructions: int | None) -> Iterator[ExtractedFunction]:
    """Yield the functions of every member, extracted by ``jobs`` processes (sequentially for small archives)."""
    from binbridge.binary.extract import member_functions

    count = sum(1 for _ in archive.members())
    small = len(archive.data) < MIN_PARALLEL_BYTES or count < 2 * jobs
    if small or "fork" not in multiprocessing.get_all_start_methods():
        yield from member_functions(archive, symbols, with_assembly, max_instructions)
        return
    run = max(1, -(-count // (jobs * RUNS_PER_JOB)))  # ceil(count / runs)
    bounds = [(first, min(first + run, count)) for first in range(0, count, run)]
    task = _WorkerTask(os.fspath(path), symbols, with_assembly, max_instructions)
    logger.debug("extracting %d members of %s in %d processes", count, path, jobs)
    # fork: workers inherit the loaded modules and the symbols without pickling them.
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs, initializer=_start_worker, initargs=(task,)) as pool:
        for functions in pool.imap(_extract_run, bounds):
            yield from functions
