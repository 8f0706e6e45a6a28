"""Deduplicate a dataset and split it by project.

Functions of one project share helpers, naming conventions and strings, so a
random per-function split leaks names between train and eval and inflates
scores. Here every project lands in exactly one split.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter
from dataclasses import dataclass, field

from binbridge.data.schema import FunctionRecord
from binbridge.errors import DatasetError

logger = logging.getLogger(__name__)


@dataclass
class SplitSummary:
    """Per-split statistics recorded next to the split files."""

    projects: dict[str, list[str]] = field(default_factory=dict)
    functions: dict[str, int] = field(default_factory=dict)
    opt_levels: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicates_removed: int = 0


@dataclass
class DatasetSplit:
    splits: dict[str, list[FunctionRecord]]
    summary: SplitSummary


def deduplicate(records: list[FunctionRecord]) -> list[FunctionRecord]:
    """Keep the first row of every distinct normalised assembly text."""
    seen: set[bytes] = set()
    kept = []
    for record in records:
        digest = hashlib.sha1(record.assembly.encode("utf-8", "surrogatepass")).digest()
        if digest in seen:
            continue
        seen.add(digest)
        kept.append(record)
    return kept


def split_by_project(records: list[FunctionRecord], held_out: dict[str, list[str]], *,
                     path: str = "<dataset>") -> DatasetSplit:
    """Put the projects named in ``held_out`` (split name -> projects) in their splits, the rest in ``train``."""
    present = {r.project for r in records}
    assignment: dict[str, str] = {}
    for split_name, projects in held_out.items():
        for project in projects:
            if project in assignment:
                raise DatasetError(path, f"project {project!r} is named for both {assignment[project]!r} and "
                                   f"{split_name!r}", "name each project for one split only")
            if project not in present:
                raise DatasetError(path, f"project {project!r} for split {split_name!r} has no rows",
                                   f"choose from: {', '.join(sorted(present))}")
            assignment[project] = split_name

    unique = deduplicate(records)
    removed = len(records) - len(unique)
    splits: dict[str, list[FunctionRecord]] = {"train": []}
    splits.update({name: [] for name in held_out})
    for record in unique:
        splits[assignment.get(record.project, "train")].append(record)

    summary = SplitSummary(duplicates_removed=removed)
    for name, rows in splits.items():
        summary.projects[name] = sorted({r.project for r in rows})
        summary.functions[name] = len(rows)
        summary.opt_levels[name] = dict(Counter(r.opt_level for r in rows))
    return DatasetSplit(splits=splits, summary=summary)


def pick_held_out_projects(records: list[FunctionRecord], fraction: float, seed: int) -> list[str]:
    """Choose whole projects, in a seeded random order, until about ``fraction`` of the rows are held out."""
    counts = Counter(r.project for r in records)
    projects = sorted(counts)
    random.Random(seed).shuffle(projects)
    chosen, total = [], 0
    target = fraction * sum(counts.values())
    for project in projects:
        if total >= target:
            break
        if len(chosen) + 1 >= len(projects):
            break
        chosen.append(project)
        total += counts[project]
    return chosen
