"""``binbridge extract``: binaries in, one dataset row per function out."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from binbridge.binary import ExtractedFunction, describe_binary, iter_function_runs
from binbridge.data.names import split_clone_suffix
from binbridge.data.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, AtomicCsvWriter, csv_line
from binbridge.progress import progress_bar

logger = logging.getLogger(__name__)

# callees would need every function's name before the first row is written, so extraction leaves it
# out. ``binbridge signatures`` reads binaries directly for call keys.
EXTRACT_COLUMNS = list(REQUIRED_COLUMNS) + [column for column in OPTIONAL_COLUMNS if column != "callees"]


@dataclass
class ExtractResult:
    rows: int
    inputs: int
    unnamed_skipped: int


def project_from_path(path: str | os.PathLike[str]) -> str:
    """Guess a project name from a file name: ``/usr/lib/libcrypto.so.3`` -> ``crypto``."""
    name = Path(path).name
    name = re.split(r"\.(?:a|so|o)(?:\.|$)", name)[0]
    if name.startswith("lib") and len(name) > 3:
        name = name[3:]
    return name or Path(path).name


def extract_to_csv(inputs: list[str], output: str | os.PathLike[str], *, project: str | None = None,
                   opt_level: str = "unknown", keep_unnamed: bool = False,
                   show_progress: bool = False, jobs: int = 1) -> ExtractResult:
    """Write every function of ``inputs`` to ``output``; nothing is written if any input is invalid.

    ``jobs`` worker processes extract the members of large archives.
    """
    for path in inputs:
        describe_binary(path)  # reject any bad input before the slow work starts
    rows = 0
    skipped = 0
    with AtomicCsvWriter(output, EXTRACT_COLUMNS) as writer:
        for path in inputs:
            formatter = RowFormatter(project or project_from_path(path), opt_level, keep_unnamed)
            bar = progress_bar(enabled=show_progress, desc=Path(path).name, unit="fn")
            # RowFormatter runs in the extraction workers, so only text comes back from them.
            for run in iter_function_runs(path, formatter, jobs=jobs):
                writer.write_text(run.text)
                rows += run.rows
                skipped += run.skipped
                bar.update(run.rows + run.skipped)
            bar.close()
    if skipped:
        logger.info("skipped %d functions without a symbol name (use --keep_unnamed to write them)", skipped)
    return ExtractResult(rows=rows, inputs=len(inputs), unnamed_skipped=skipped)


@dataclass(frozen=True)
class FormattedRun:
    """CSV rows of a run of functions, and how many functions were written and skipped."""

    text: str
    rows: int
    skipped: int


@dataclass(frozen=True)
class RowFormatter:
    """Format functions as CSV rows of EXTRACT_COLUMNS, as AtomicCsvWriter.write would."""

    project: str
    opt_level: str
    keep_unnamed: bool

    def __call__(self, functions: list[ExtractedFunction]) -> FormattedRun:
        lines = []
        for function in functions:
            if function.name or self.keep_unnamed:
                row = self.row(function)
                lines.append(csv_line([row.get(column, "") for column in EXTRACT_COLUMNS]))
        return FormattedRun("".join(lines), len(lines), len(functions) - len(lines))

    def row(self, function: ExtractedFunction) -> dict[str, object]:
        split = split_clone_suffix(function.name or "")
        return {
            "function_name": split.base,
            "assembly": function.assembly,
            "binary": function.binary,
            "address": f"0x{function.address:x}",
            "size": function.size,
            "arch": function.arch,
            "project": self.project,
            "opt_level": self.opt_level,
            "clone_suffix": split.clone_suffix,
        }
