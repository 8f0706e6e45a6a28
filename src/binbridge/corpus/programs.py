"""Build a Debian source package with its own build system, as Debian builds it, and strip its programs.

Programs such as grep, sed and tar carry gnulib, the GNU portability library
that most GNU programs copy into their own trees. Built with Debian's flags,
those copies compile to the same code as in the distribution's binaries, so
their functions give signatures for gnulib code in stripped programs (see
docs/signatures.md), and the programs themselves are rows of real application
code. The build runs ``./configure`` and ``make`` in a copy of the unpacked
tree, so that ``__FILE__`` strings are the short relative paths of an in-tree
Debian build and a failed build leaves the download untouched.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from binbridge.corpus.manifest import ProgramFlags, ProgramSource, program_stem
from binbridge.corpus.relink import LinkedTwin
from binbridge.corpus.tools import CommandError, run_command

logger = logging.getLogger(__name__)

CONFIGURE_TIMEOUT_S = 1800
MAKE_TIMEOUT_S = 3600
# Matches "configure: error: ...", "file.c:3:5: error: ..." and make's "*** [...] Error 2". It does not
# match the compile command of xstrtol-error.c, a check for strerror or -Werror.
_ERROR_LINE = re.compile(r"\berror:|\*\*\*", re.IGNORECASE)


@dataclass(frozen=True)
class ProgramBuild:
    twins: list[LinkedTwin]
    """One unstripped program and its stripped copy per program that the build wrote."""
    missing: list[str]
    """Programs of the manifest entry that the build did not write."""
    not_elf: list[str] = field(default_factory=list)
    """Programs that the build wrote as something other than an ELF file (a libtool wrapper script)."""
    make_errors: str = ""
    """First error lines of make when it failed, to explain missing programs."""


def build_program_package(tree: Path, source: ProgramSource, flags: ProgramFlags, build_dir: Path,
                          make_jobs: int) -> ProgramBuild:
    """Configure and make a copy of tree in build_dir, then strip a copy of each listed program.

    A finished build with the same flags, arguments, source tree and folder is
    reused while its tree exists, even when it lacks a program: building again
    would not write it. A moved folder is rebuilt, because DWARF names its
    paths. Raises CommandError when configure fails, or when make fails before
    writing any program.
    """
    build_dir = build_dir.resolve()  # -fmacro-prefix-map must match the absolute paths that gcc compiles
    work_tree = build_dir / "tree"
    stamp = build_dir / "build.json"
    settings = {**_settings(source, flags), "tree": str(Path(tree).resolve()), "build_dir": str(build_dir)}
    previous = _read_stamp(stamp)
    if previous is not None and previous.get("settings") == settings and work_tree.is_dir():
        make_errors = str(previous.get("make_errors", ""))
    else:
        stamp.unlink(missing_ok=True)
        make_errors = _configure_and_make(tree, work_tree, source, flags, make_jobs)
        stamp.write_text(json.dumps({"settings": settings, "make_errors": make_errors}, indent=1) + "\n")
    build = ProgramBuild(twins=[], missing=[], make_errors=make_errors)
    bin_dir = build_dir / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for program in source.programs:
        built = work_tree / program
        if not built.is_file():
            build.missing.append(program)
            continue
        if not _is_elf(built):
            build.not_elf.append(program)
            continue
        stem = program_stem(program)
        unstripped = bin_dir / stem
        stripped = bin_dir / f"{stem}.stripped"
        shutil.copy2(built, unstripped)
        run_command(["strip", "-o", stripped, unstripped])
        build.twins.append(LinkedTwin(unstripped, stripped, (), 0, False))
    return build


def _is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def _cflags(flags: ProgramFlags, work_tree: Path) -> list[str]:
    # __FILE__ of an absolute path becomes the path in the tree, the same on every machine. DWARF
    # keeps absolute paths, so that the source_code join finds the files.
    return [*flags.cflags, f"-fmacro-prefix-map={work_tree}=."]


def _settings(source: ProgramSource, flags: ProgramFlags) -> dict[str, list[str] | str]:
    """Return what decides a build's output, to compare with the stamp of an earlier build."""
    return {"cflags": _cflags(flags, Path("TREE")), "cppflags": list(flags.cppflags),
            "ldflags": list(flags.ldflags), "configure_args": list(source.configure_args),
            "make_args": list(source.make_args)}


def _read_stamp(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _configure_and_make(tree: Path, work_tree: Path, source: ProgramSource, flags: ProgramFlags,
                        make_jobs: int) -> str:
    """Build the tree and return make's first error lines, or "" when make succeeded."""
    if work_tree.exists():
        shutil.rmtree(work_tree)
    shutil.copytree(tree, work_tree, symlinks=True)
    _same_timestamps(work_tree)
    cflags = _cflags(flags, work_tree)
    configure = ["./configure", "--prefix=/usr", *source.configure_args, f"CFLAGS={' '.join(cflags)}",
                 f"CPPFLAGS={' '.join(flags.cppflags)}", f"LDFLAGS={' '.join(flags.ldflags)}"]
    if not (work_tree / "configure").is_file():
        raise CommandError(configure, 1, f"{work_tree} has no configure script; "
                                         "only packages with an autotools build are supported")
    logger.info("programs %s: configure", source.name)
    # The configure scripts of tar and coreutils stop with an error when run as root, which corpus
    # builds with --apt_install are.
    env = {**os.environ, "FORCE_UNSAFE_CONFIGURE": "1", "LC_ALL": "C"}
    result = run_command(configure, cwd=work_tree, timeout=CONFIGURE_TIMEOUT_S, env=env, check=False)
    if result.returncode != 0:
        raise CommandError(configure, result.returncode, _error_lines(result.output))
    logger.info("programs %s: make -j%d", source.name, make_jobs)
    # Documentation may need tools that the machine lacks (makeinfo, help2man), so make runs with -k.
    # Only a missing program makes the build fail.
    make = ["make", "-k", f"-j{make_jobs}", *source.make_args]
    result = run_command(make, cwd=work_tree, timeout=MAKE_TIMEOUT_S, check=False)
    if result.returncode == 0:
        return ""
    built = [program for program in source.programs if (work_tree / program).is_file()]
    if not built:
        raise CommandError(make, result.returncode, _error_lines(result.output))
    if len(built) == len(source.programs):
        logger.warning("programs %s: make exited with %d after writing every program; the rest of the tree "
                       "(documentation, translations) is not needed", source.name, result.returncode)
    return _error_lines(result.output)


def _same_timestamps(root: Path) -> None:
    """Give every file of root one timestamp, so that make regenerates nothing with autotools.

    Debian's patches touch configure.ac and Makefile.am in some packages (gzip),
    which would make the build run aclocal and automake, tools that the
    machine may lack. Debian's own build runs dh_autoreconf instead. The
    generated files of the upstream release are kept, so a patch to the build
    system itself is not applied, while patches to C sources are.
    """
    stamp = time.time()
    for path in [root, *root.rglob("*")]:
        os.utime(path, (stamp, stamp), follow_symlinks=False)


def _error_lines(output: str, limit: int = 5) -> str:
    """Return the first lines of configure or make output that report an error, else the last lines."""
    lines = output.splitlines()
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    return "\n".join(errors[:limit] if errors else lines[-limit:])
