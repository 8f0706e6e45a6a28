"""``binbridge extract``: binaries in, one dataset row per function out."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from binbridge.binary import describe_binary, iter_functions
from binbridge.data.names import split_clone_suffix
from binbridge.data.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, AtomicCsvWriter
from binbridge.progress import progress

logger = logging.getLogger(__name__)

EXTRACT_COLUMNS = list(REQUIRED_COLUMNS) + list(OPTIONAL_COLUMNS)


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
            row_project = project or project_from_path(path)
            functions = progress(iter_functions(path, jobs=jobs), enabled=show_progress, desc=Path(path).name,
                                 unit="fn")
            for function in functions:
                if not function.name and not keep_unnamed:
                    skipped += 1
                    continue
                split = split_clone_suffix(function.name or "")
                writer.write({
                    "function_name": split.base,
                    "assembly": function.assembly,
                    "binary": function.binary,
                    "address": f"0x{function.address:x}",
                    "size": function.size,
                    "arch": function.arch,
                    "project": row_project,
                    "opt_level": opt_level,
                    "clone_suffix": split.clone_suffix,
                })
                rows += 1
    if skipped:
        logger.info("skipped %d functions without a symbol name (use --keep_unnamed to write them)", skipped)
    return ExtractResult(rows=rows, inputs=len(inputs), unnamed_skipped=skipped)
