"""Relink a static library into a position-independent executable and strip a copy.

A linked, stripped PIE shows function bodies as real stripped binaries do:
imports go through the PLT and internal calls have no names. The unstripped
twin keeps .symtab (and DWARF, when the objects have it), which name the
stripped copy's functions by address.

Dependencies come from the manifest's link_libs, or else from DT_NEEDED of
the library's shared twin (libz.a -> libz.so). When the link still reports
undefined references, each missing symbol is defined in a generated stub
shared library, so that calls to it stay PLT imports with their real names.
A stub is a function unless the archive references the symbol like data
(see data_references), and then a zeroed object. ld may still report a
stub as data, and the next attempt turns it into an object.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from binbridge.binary.errors import BinaryFormatError
from binbridge.corpus.elfinfo import IMPLICIT_LIBRARIES, data_references, needed_libraries, open_elf
from binbridge.corpus.tools import CommandError, run_command
from binbridge.errors import InputError

logger = logging.getLogger(__name__)

MAIN_SOURCE = "int main(void)\n{\n    return 0;\n}\n"
MAX_LINK_ATTEMPTS = 6
# Size of each data stub in bytes. Relinked binaries never run, so the size only has to satisfy the linker.
DATA_STUB_SIZE = 64
LINK_TIMEOUT_S = 900

_UNDEFINED = re.compile(r"undefined reference to [`'\u2018]([^'`\u2019]+)['\u2019]")
_C_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Messages of ld about references to a symbol that must be data (a copy relocation), not a function.
_DATA_REFERENCE = re.compile(r"(?:relocation R_X86_64_\w+ against symbol|relocation against) "
                             r"[`'\u2018]([^'`\u2019]+)['\u2019]")


@dataclass(frozen=True)
class LinkedTwin:
    """A relinked PIE and its stripped copy."""

    unstripped: Path
    stripped: Path
    link_args: tuple[str, ...]
    stub_symbols: int
    """Undefined symbols that the generated stub library had to define."""
    allow_multiple_definition: bool


def trivial_main(work_dir: Path) -> Path:
    """Compile (once per work folder) the object that gives every relinked PIE its main."""
    work_dir.mkdir(parents=True, exist_ok=True)
    source = work_dir / "binbridge_main.c"
    target = work_dir / "binbridge_main.o"
    if not target.is_file() or not source.is_file() or source.read_text() != MAIN_SOURCE:
        source.write_text(MAIN_SOURCE)
        run_command(["gcc", "-O2", "-c", source, "-o", target])
    return target


def shared_library_dependencies(archive: Path) -> tuple[str, ...]:
    """Return ``-l:SONAME`` arguments for the DT_NEEDED entries of the archive's shared twin, if any."""
    shared = archive.with_suffix(".so")
    if not shared.exists():
        return ()
    try:
        elf = open_elf(shared.resolve())
    except (InputError, BinaryFormatError) as error:
        logger.debug("%s: cannot read %s for link dependencies: %s", archive, shared, error)
        return ()
    return tuple(f"-l:{name}" for name in needed_libraries(elf) if name not in IMPLICIT_LIBRARIES)


def relink_archive(archive: Path, output_dir: Path, stem: str, main_object: Path,
                   link_args: tuple[str, ...] | None = None) -> LinkedTwin:
    """Link every member of archive into OUTPUT_DIR/STEM.pie and strip it to STEM.pie.stripped.

    Raises CommandError when no attempt links; the output of the last attempt is in the error.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    unstripped = output_dir / f"{stem}.pie"
    stripped = output_dir / f"{stem}.pie.stripped"
    libraries = tuple(link_args) if link_args is not None else shared_library_dependencies(archive)
    stubs: set[str] = set()
    data_stubs: set[str] = set()
    data_symbols: set[str] | None = None
    allow_multiple = False
    for attempt in range(1, MAX_LINK_ATTEMPTS + 1):
        command: list[str | Path] = ["gcc", "-pie", "-o", unstripped, main_object,
                                     "-Wl,--whole-archive", archive, "-Wl,--no-whole-archive", *libraries]
        if stubs:
            command.append(_stub_library(output_dir, stem, stubs, data_stubs))
        if allow_multiple:
            command.append("-Wl,--allow-multiple-definition")
        result = run_command(command, check=False, timeout=LINK_TIMEOUT_S)
        if result.returncode == 0:
            break
        missing = {name for name in _UNDEFINED.findall(result.output) if _C_SYMBOL.match(name)} - stubs
        new_data = (set(_DATA_REFERENCE.findall(result.output)) & stubs) - data_stubs
        retry_multiple = "multiple definition of" in result.output and not allow_multiple
        if attempt == MAX_LINK_ATTEMPTS or not (missing or new_data or retry_multiple):
            raise CommandError([str(part) for part in command], result.returncode, result.output)
        if missing and data_symbols is None:
            data_symbols = data_references(archive)
        stubs |= missing
        data_stubs |= new_data | (missing & (data_symbols or set()))
        allow_multiple = allow_multiple or retry_multiple
        logger.debug("%s: link attempt %d failed; retrying with %d stub symbols (%d data)%s", archive, attempt,
                     len(stubs), len(data_stubs), ", allowing multiple definitions" if allow_multiple else "")
    run_command(["strip", "-o", stripped, unstripped])
    if stubs:
        logger.info("%s: defined %d undefined symbols in a stub library to link it", archive.name, len(stubs))
    return LinkedTwin(unstripped, stripped, libraries, len(stubs), allow_multiple)


def _stub_library(output_dir: Path, stem: str, symbols: set[str], data_symbols: set[str]) -> Path:
    """Build a shared library that defines each symbol as a one-instruction function or a zeroed object."""
    source = output_dir / f"{stem}.stubs.s"
    library = output_dir / f"lib{stem}_stubs.so"
    lines = ["\t.text"]
    for name in sorted(symbols - data_symbols):
        lines += [f"\t.globl {name}", f"\t.type {name}, @function", f"{name}:", "\tret", f"\t.size {name}, 1"]
    lines.append("\t.data")
    for name in sorted(data_symbols):
        lines += [f"\t.globl {name}", f"\t.type {name}, @object", f"\t.size {name}, {DATA_STUB_SIZE}", f"{name}:",
                  f"\t.zero {DATA_STUB_SIZE}"]
    source.write_text("\n".join(lines) + "\n")
    run_command(["gcc", "-shared", "-nostdlib", "-o", library, source, f"-Wl,-soname,lib{stem}_stubs.so"])
    return library
