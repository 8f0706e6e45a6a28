"""manifest.lock.json: what a corpus build actually used, next to what the manifest asked for.

The lock records the installed version of every Debian package, the
toolchain versions, the sha256 of every input file and of every output
file, and each package's row counts and failures.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from binbridge.corpus.rows import InputFile, UnitResult
from binbridge.corpus.tools import first_line

LOCK_FORMAT_VERSION = 1


@dataclass
class PackageLock:
    """One manifest entry (a library package, sdist, source package or debug package) as built."""

    source: str
    package: str
    manifest_version: str
    resolved_version: str | None
    """Installed Debian version, or the downloaded version for sdists and source packages. None if missing."""
    projects: list[str]
    status: str
    """``ok``, ``partial`` (some steps failed) or ``failed`` (no rows)."""
    failures: list[str]
    files: list[InputFile]
    rows: dict[str, int]
    """Rows per row kind, before deduplication."""
    dropped: dict[str, int]
    seconds: float


@dataclass
class ToolchainLock:
    compiler_package: str
    manifest_compiler_version: str
    compiler_package_version: str | None
    gcc: str | None
    """First line of ``gcc --version``."""
    ld: str | None
    strip: str | None
    python: str
    pyelftools: str
    capstone: str


@dataclass
class OutputFile:
    rows: int
    sha256: str


@dataclass
class ManifestLock:
    manifest: str
    manifest_sha256: str
    binbridge_version: str
    sources: list[str]
    opt_levels: list[str]
    cflags: list[str]
    toolchain: ToolchainLock
    packages: list[PackageLock]
    outputs: dict[str, OutputFile] = field(default_factory=dict)
    started_at: str = ""
    seconds: float = 0.0
    format_version: int = LOCK_FORMAT_VERSION


def toolchain_lock(compiler_package: str, manifest_version: str, package_version: str | None) -> ToolchainLock:
    import capstone
    import elftools

    return ToolchainLock(
        compiler_package=compiler_package,
        manifest_compiler_version=manifest_version,
        compiler_package_version=package_version,
        gcc=first_line(["gcc", "--version"]),
        ld=first_line(["ld", "--version"]),
        strip=first_line(["strip", "--version"]),
        python=sys.version.split()[0],
        pyelftools=elftools.__version__,
        capstone=capstone.__version__,
    )


def package_locks(results: list[UnitResult]) -> list[PackageLock]:
    """Merge unit results into one entry per (source kind, package), in first-seen order."""
    merged: dict[tuple[str, str], PackageLock] = {}
    failed_units: Counter = Counter()
    unit_counts: Counter = Counter()
    for result in results:
        key = (result.source, result.package)
        lock = merged.get(key)
        if lock is None:
            lock = PackageLock(result.source, result.package, result.version, result.resolved_version, [], "ok",
                               [], [], {}, {}, 0.0)
            merged[key] = lock
        if result.project not in lock.projects:
            lock.projects.append(result.project)
        lock.failures += result.failures
        known = {item.path for item in lock.files}
        lock.files += [item for item in result.inputs if item.path not in known]
        for kind, records in result.rows.items():
            lock.rows[kind] = lock.rows.get(kind, 0) + len(records)
        for reason, count in result.dropped.items():
            lock.dropped[reason] = lock.dropped.get(reason, 0) + count
        lock.seconds += result.seconds
        unit_counts[key] += 1
        failed_units[key] += result.row_count == 0
    for key, lock in merged.items():
        if failed_units[key] == unit_counts[key]:
            lock.status = "failed"
        elif lock.failures:
            lock.status = "partial"
        lock.seconds = round(lock.seconds, 2)
    return list(merged.values())


def failed_package_lock(source: str, package: str, version: str, project: str, failure: str) -> PackageLock:
    """Lock entry of a package that failed before any unit ran (download or unpack)."""
    return PackageLock(source, package, version, None, [project], "failed", [failure], [], {}, {}, 0.0)


def write_json_atomically(path: Path, data: object) -> None:
    """Write JSON to a temp file in the target folder and rename it over path."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
