"""Units of work of a corpus build and the code that turns each into rows.

A unit is one library file, one compiled source tree at one optimisation
level, one program package built by its own build system, or one stripped
file with its debug file. Units are independent, so
``--jobs`` runs them in parallel processes; each returns a UnitResult.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from binbridge.binary import iter_functions
from binbridge.binary.errors import BinaryFormatError
from binbridge.corpus.compile import compile_archive
from binbridge.corpus.dbg import DebugPair, debug_pair_records
from binbridge.corpus.manifest import CompiledSource, Library, ProgramFlags, ProgramSource
from binbridge.corpus.programs import build_program_package
from binbridge.corpus.relink import relink_archive
from binbridge.corpus.rows import InputFile, RowContext, UnitResult, make_record
from binbridge.corpus.tools import CommandError, sha256_file
from binbridge.corpus.twin import twin_records
from binbridge.errors import InputError

logger = logging.getLogger(__name__)

# opt_level of code built by Debian. dpkg-buildflags defaults to -O2, but packages may override it,
# and the level is not recorded per function.
DISTRO_OPT_LEVEL = "distro"


@dataclass(frozen=True)
class LibraryUnit:
    package: str
    version: str
    resolved_version: str | None
    library: Library
    path: Path
    relink_dir: Path
    main_object: Path


@dataclass(frozen=True)
class CompiledUnit:
    source: CompiledSource
    tree: Path
    inputs: tuple[InputFile, ...]
    opt_level: str
    cflags: tuple[str, ...]
    build_dir: Path
    main_object: Path


@dataclass(frozen=True)
class ProgramUnit:
    source: ProgramSource
    tree: Path
    inputs: tuple[InputFile, ...]
    flags: ProgramFlags
    build_dir: Path
    make_jobs: int


@dataclass(frozen=True)
class DebugUnit:
    package: str
    version: str
    resolved_version: str | None
    project: str
    pair: DebugPair


Unit = LibraryUnit | CompiledUnit | ProgramUnit | DebugUnit


def run_unit(unit: Unit) -> UnitResult:
    """Build the rows of one unit.

    Failed commands, invalid inputs and unreadable files are logged and listed
    in the result instead of raised, so one bad package does not stop the build.
    """
    started = time.monotonic()
    result = _empty_result(unit)
    try:
        if isinstance(unit, LibraryUnit):
            _run_library(unit, result)
        elif isinstance(unit, CompiledUnit):
            _run_compiled(unit, result)
        elif isinstance(unit, ProgramUnit):
            _run_program(unit, result)
        else:
            _run_debug(unit, result)
    except (CommandError, InputError, BinaryFormatError, OSError) as error:
        _fail(result, str(error))
    result.seconds = time.monotonic() - started
    counts = ", ".join(f"{kind} {len(records)}" for kind, records in result.rows.items()) or "no rows"
    logger.info("%s %s: %s in %.1f s", result.source, result.label, counts, result.seconds)
    return result


def _empty_result(unit: Unit) -> UnitResult:
    if isinstance(unit, LibraryUnit):
        return UnitResult("libs", unit.package, unit.version, unit.library.project, unit.path.name,
                          resolved_version=unit.resolved_version)
    if isinstance(unit, CompiledUnit):
        source = unit.source
        return UnitResult(source.kind, source.name, source.version, source.project,
                          f"{source.name} -{unit.opt_level}", inputs=list(unit.inputs),
                          resolved_version=source.version)
    if isinstance(unit, ProgramUnit):
        return UnitResult("programs", unit.source.name, unit.source.version, unit.source.project, unit.source.name,
                          inputs=list(unit.inputs), resolved_version=unit.source.version)
    return UnitResult("dbg", unit.package, unit.version, unit.project, unit.pair.stripped.name,
                      resolved_version=unit.resolved_version)


def _fail(result: UnitResult, message: str) -> None:
    line = " ".join(message.split())
    result.failures.append(f"{result.label}: {line}")
    logger.warning("%s %s: %s; skipped", result.source, result.label, line)


def _run_library(unit: LibraryUnit, result: UnitResult) -> None:
    path = unit.path
    if path.is_symlink():
        _fail(result, f"{path} is a symlink; list the file it points to ({path.resolve().name}) instead")
        return
    if not path.is_file():
        _fail(result, f"{path} not found; install it with apt-get install {unit.package}={unit.version} "
                      "or pass --apt_install")
        return
    result.inputs.append(InputFile(str(path), sha256_file(path)))
    context = RowContext(unit.library.project, DISTRO_OPT_LEVEL)
    records = []
    for function in iter_functions(path):
        record = make_record(function, function.name, context, result.dropped)
        if record is not None:
            records.append(record)
    if not records:
        _fail(result, f"{path} has no named functions (an empty stub archive?)")
        return
    result.add_rows("libs", records)
    if not unit.library.relink:
        return
    stem = path.name[:-2] if path.name.endswith(".a") else path.name
    try:
        twin = relink_archive(path, unit.relink_dir / stem, stem, unit.main_object, unit.library.link_libs)
    except CommandError as error:
        _fail(result, f"relinking into a PIE failed: {error}")
        return
    relinked_context = RowContext(unit.library.project, DISTRO_OPT_LEVEL, drop_main=True)
    result.add_rows("libs-relinked", twin_records(twin, relinked_context, result.dropped))


def _run_compiled(unit: CompiledUnit, result: UnitResult) -> None:
    source = unit.source
    compiled = compile_archive(unit.tree, source, unit.opt_level, unit.cflags, unit.build_dir)
    if compiled.failed_files:
        result.failures.append(f"{result.label}: {len(compiled.failed_files)} C files failed to compile "
                               f"({', '.join(compiled.failed_files[:5])}); first error: "
                               f"{' '.join(compiled.first_error.split())[:300]}")
    if compiled.archive is None:
        _fail(result, "no C file compiled")
        return
    stem = compiled.archive.name[:-2]
    twin = relink_archive(compiled.archive, unit.build_dir / "relink", stem, unit.main_object, source.link_libs)
    context = RowContext(source.project, unit.opt_level, drop_main=True)
    records = twin_records(twin, context, result.dropped)
    with_source = sum(1 for record in records if record.source_code)
    logger.debug("%s: %d rows, %d with source_code", result.label, len(records), with_source)
    result.add_rows(source.kind, records)


def _run_program(unit: ProgramUnit, result: UnitResult) -> None:
    build = build_program_package(unit.tree, unit.source, unit.flags, unit.build_dir, unit.make_jobs)
    if build.missing:
        reason = "check the programs paths of the manifest"
        if build.make_errors:
            reason = f"make failed: {build.make_errors}"
        _fail(result, f"the build wrote no {', '.join(build.missing)}; {reason}")
    if build.not_elf:
        _fail(result, f"not an ELF file (a libtool wrapper script?): {', '.join(build.not_elf)}; list the "
                      "executable under .libs/ instead, or add --disable-shared to configure_args")
    context = RowContext(unit.source.project, unit.flags.opt_level)
    records = []
    for twin in build.twins:
        records += twin_records(twin, context, result.dropped)
    if build.twins and not records:
        _fail(result, "the built programs have no named functions")
    result.add_rows("programs", records)


def _run_debug(unit: DebugUnit, result: UnitResult) -> None:
    pair = unit.pair
    result.inputs += [InputFile(str(pair.stripped), sha256_file(pair.stripped)),
                      InputFile(str(pair.debug), sha256_file(pair.debug))]
    context = RowContext(unit.project, DISTRO_OPT_LEVEL)
    result.add_rows("dbg", debug_pair_records(pair, context, result.dropped))
