"""Deduplicate the corpus rows, split them by project and write the split files into a staging folder.

The training projects' rows are also signed, before deduplication, into
``signatures.json`` (see ``binbridge.data.signatures``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from binbridge.corpus.lock import OutputFile, write_json_atomically
from binbridge.corpus.manifest import EXCLUDED_PROJECTS
from binbridge.corpus.rows import ROW_KINDS, UnitResult
from binbridge.corpus.tools import sha256_file
from binbridge.data.schema import FunctionRecord, write_dataset
from binbridge.data.split import SplitSummary, split_by_project
from binbridge.data.signatures import SIGNATURE_FILE, SignatureIndex, row_code
from binbridge.errors import InputError
from binbridge.outputs import atomic_output

logger = logging.getLogger(__name__)

SPLIT_FILES = ("train", "eval", "test")


@dataclass
class CorpusSplit:
    splits: dict[str, list[FunctionRecord]]
    summary: SplitSummary
    functions_by_source: dict[str, dict[str, int]]
    """Rows per split and row kind, after deduplication."""
    rows_before_dedup: int
    signature_rows: list[FunctionRecord]
    """Every row of the training projects before deduplication, so that identical code under two names
    shows as ambiguous in the signatures (deduplication would keep only the first name)."""


def ordered_rows(results: list[UnitResult]) -> tuple[list[FunctionRecord], dict[int, str]]:
    """Return all rows in build order (row kinds in ROW_KINDS order per unit) and each row's kind by id()."""
    records: list[FunctionRecord] = []
    kind_of: dict[int, str] = {}
    for result in results:
        for kind in sorted(result.rows, key=_kind_rank):
            for record in result.rows[kind]:
                kind_of[id(record)] = kind
                records.append(record)
    return records, kind_of


def _kind_rank(kind: str) -> int:
    return ROW_KINDS.index(kind) if kind in ROW_KINDS else len(ROW_KINDS)


def split_corpus(results: list[UnitResult], held_out: dict[str, tuple[str, ...]]) -> CorpusSplit:
    """Deduplicate by normalised assembly (first row wins) and split by project.

    Held-out projects without rows (their packages failed, or their source
    kind was not built) are logged and dropped from the split plan.
    """
    records, kind_of = ordered_rows(results)
    present = {record.project for record in records}
    excluded = sorted(present & EXCLUDED_PROJECTS)
    if excluded:
        raise InputError(None, f"rows of excluded projects {', '.join(excluded)} reached the split",
                         "remove their entries from the manifest")
    plan: dict[str, list[str]] = {}
    for split_name in SPLIT_FILES[1:]:
        projects = list(held_out.get(split_name, ()))
        missing = [project for project in projects if project not in present]
        if missing:
            logger.warning("splits.%s: projects without rows are left out of the split: %s", split_name,
                           ", ".join(missing))
        plan[split_name] = [project for project in projects if project in present]
    result = split_by_project(records, plan, path="<corpus>")
    by_source = {name: dict(Counter(kind_of[id(record)] for record in rows)) for name, rows in result.splits.items()}
    held_out_projects = {project for projects in plan.values() for project in projects}
    signature_rows = [record for record in records if record.project not in held_out_projects]
    return CorpusSplit(result.splits, result.summary, by_source, len(records), signature_rows)


def write_split_files(corpus: CorpusSplit, staging: Path) -> dict[str, OutputFile]:
    """Write train.csv, eval.csv, test.csv and split_summary.json into staging, and return each CSV's rows and hash."""
    outputs = {}
    for name in SPLIT_FILES:
        rows = corpus.splits.get(name, [])
        path = staging / f"{name}.csv"
        write_dataset(path, rows)
        outputs[path.name] = OutputFile(len(rows), sha256_file(path))
    summary = asdict(corpus.summary)
    summary["functions_by_source"] = corpus.functions_by_source
    summary["rows_before_dedup"] = corpus.rows_before_dedup
    write_json_atomically(staging / "split_summary.json", summary)
    outputs[SIGNATURE_FILE] = write_signatures(corpus.signature_rows, staging / SIGNATURE_FILE)
    return outputs


def write_signatures(rows: list[FunctionRecord], path: Path) -> OutputFile:
    """Sign the training projects' functions (cold parts left out) into the signature file at ``path``."""
    functions = (row_code(record.function_name, record.clone_suffix, record.assembly, record.binary, record.address,
                          number, record.project, record.callees) for number, record in enumerate(rows))
    index = SignatureIndex.build((code for code in functions if code is not None),
                                 description="binbridge corpus build: training projects")
    with atomic_output(path) as handle:
        handle.write(index.to_json())
    return OutputFile(len(index.exact), sha256_file(path))
