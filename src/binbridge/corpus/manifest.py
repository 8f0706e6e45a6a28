"""The corpus manifest: every package, version, compiler and flag that a corpus build uses.

The layout is documented in corpus/README.md. ``load_manifest`` checks every
field, so a build never starts from a manifest that it would reject halfway.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from binbridge.corpus.manifest_reader import FieldReader
from binbridge.errors import InputError

SOURCE_KINDS = ("libs", "sdists", "debsrc", "programs", "dbg")
OPT_LEVELS = ("O0", "O1", "O2", "O3", "Os", "Og", "Ofast")
SPLIT_NAMES = ("eval", "test")

# binutils is the evaluation benchmark, and GCC and GDB share much of its code (libiberty, BFD,
# opcodes); coreutils is the other benchmark (benchmarks/coreutils_benchmark.py) and contains
# /usr/bin/ls, the program that `make run` names. No manifest may bring in these projects or packages.
EXCLUDED_PROJECTS = frozenset({"binutils", "gcc", "gdb", "libiberty", "bfd", "opcodes", "coreutils"})
EXCLUDED_PACKAGE = re.compile(
    r"^(?:binutils|libbinutils|gcc|gdb|libctf|libgprofng|libiberty|cpp|coreutils)(?:$|[-.0-9])")
_EXCLUSION_FIX = ("binutils and coreutils are the evaluation benchmarks, and gcc and gdb share binutils' code; "
                  "remove this entry")
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
# Debian and PyPI package names and versions; none contains "/", so none leaves the work folder.
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
# No "_": download folders write ":" as "_", so "1:3.8" and "1_3.8" would share one.
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+~:!-]*$")


@dataclass(frozen=True)
class Toolchain:
    compiler: str
    compiler_package: str
    compiler_version: str
    """Debian version of compiler_package that the corpus was built with."""
    opt_levels: tuple[str, ...]
    cflags: tuple[str, ...]
    """Flags of every compiled source, before the -O flag. They must contain -g for the DWARF join."""


@dataclass(frozen=True)
class Library:
    file: str
    """File name in lib_dir, or an absolute path."""
    project: str
    relink: bool
    link_libs: tuple[str, ...] | None
    """Linker arguments for the relinked PIE. None derives them from the shared library's DT_NEEDED."""


@dataclass(frozen=True)
class LibraryPackage:
    package: str
    version: str
    libraries: tuple[Library, ...]


@dataclass(frozen=True)
class CompiledSource:
    """A C source tree (PyPI sdist or Debian source package) that the builder compiles at every opt level."""

    kind: str
    """``sdists`` or ``debsrc``."""
    name: str
    """PyPI project name or Debian source package name."""
    version: str
    project: str
    sources: tuple[str, ...]
    """Glob patterns of C files, relative to the unpacked source tree."""
    exclude: tuple[str, ...]
    include_dirs: tuple[str, ...]
    defines: tuple[str, ...]
    cflags: tuple[str, ...]
    link_libs: tuple[str, ...]
    sha256: str | None
    """Expected sha256 of the downloaded sdist archive. None skips the check."""
    generated_files: dict[str, str]
    """Files to write into the tree before compiling (path -> text), for headers that a build system generates."""


@dataclass(frozen=True)
class ProgramFlags:
    """Compiler and linker flags of every program build, as dpkg-buildflags gives them."""

    cflags: tuple[str, ...]
    """They must contain -g for the DWARF join. The builder adds -fmacro-prefix-map for the build tree."""
    cppflags: tuple[str, ...]
    ldflags: tuple[str, ...]

    @property
    def opt_level(self) -> str:
        """The last -O flag of cflags without its dash (O0 when there is none, as for gcc)."""
        levels = [flag[1:] for flag in self.cflags if flag.startswith("-O")]
        return levels[-1] if levels else "O0"


@dataclass(frozen=True)
class ProgramSource:
    """A Debian source package built by its own build system (``./configure && make``), as Debian builds it."""

    name: str
    """Debian source package name."""
    version: str
    project: str
    programs: tuple[str, ...]
    """Built executables, relative to the source tree (``src/grep``)."""
    configure_args: tuple[str, ...]
    make_args: tuple[str, ...]
    kind: str = "programs"


@dataclass(frozen=True)
class PackageVersion:
    package: str
    version: str


@dataclass(frozen=True)
class DebugPackage:
    package: str
    version: str
    project: str
    runtime_packages: tuple[PackageVersion, ...]
    """Packages whose installed, stripped ELF files the debug files describe."""
    exclude: tuple[str, ...] = ()
    """fnmatch patterns of installed paths to leave out, such as glibc's many tiny gconv modules."""


@dataclass(frozen=True)
class Manifest:
    path: Path
    sha256: str
    toolchain: Toolchain
    splits: dict[str, tuple[str, ...]]
    lib_dir: Path
    libraries: tuple[LibraryPackage, ...]
    sdists: tuple[CompiledSource, ...]
    debsrc: tuple[CompiledSource, ...]
    dbg: tuple[DebugPackage, ...]
    programs: tuple[ProgramSource, ...] = ()
    program_flags: ProgramFlags = ProgramFlags(("-g", "-O2"), (), ())

    def projects(self, kinds: tuple[str, ...] = SOURCE_KINDS) -> set[str]:
        """Return every project that the given source kinds contribute."""
        projects: set[str] = set()
        if "libs" in kinds:
            projects.update(library.project for package in self.libraries for library in package.libraries)
        if "sdists" in kinds:
            projects.update(source.project for source in self.sdists)
        if "debsrc" in kinds:
            projects.update(source.project for source in self.debsrc)
        if "programs" in kinds:
            projects.update(source.project for source in self.programs)
        if "dbg" in kinds:
            projects.update(package.project for package in self.dbg)
        return projects


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest, raising InputError that names the first invalid field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "manifest not found", "pass the path of corpus/manifest.json with --manifest")
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(path, f"invalid JSON: {error}", "fix the syntax of the manifest") from error

    root = FieldReader(data, "", path)
    root.check_keys({"format_version", "description", "toolchain", "splits", "sources"})
    if root.integer("format_version") != 1:
        root.fail(f"format_version={root.data['format_version']!r} is invalid: this binbridge reads version 1",
                  "write \"format_version\": 1")
    toolchain = _toolchain(root.child("toolchain"))
    splits = _splits(root.child("splits"))
    sources = root.child("sources")
    sources.check_keys(set(SOURCE_KINDS), "source kind")
    libs = sources.child("libs", {"lib_dir": "/usr/lib/x86_64-linux-gnu", "packages": []})
    libs.check_keys({"lib_dir", "packages"})
    programs = sources.child("programs", {"cflags": ["-g", "-O2"], "packages": []})
    programs.check_keys({"cflags", "cppflags", "ldflags", "packages", "note"})
    manifest = Manifest(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        toolchain=toolchain,
        splits=splits,
        lib_dir=Path(libs.text("lib_dir")),
        libraries=tuple(_library_package(entry) for entry in libs.children("packages")),
        sdists=tuple(_compiled(entry, "sdists") for entry in sources.children("sdists", [])),
        debsrc=tuple(_compiled(entry, "debsrc") for entry in sources.children("debsrc", [])),
        dbg=tuple(_debug_package(entry) for entry in sources.children("dbg", [])),
        programs=tuple(_program(entry) for entry in programs.children("packages", [])),
        program_flags=_program_flags(programs),
    )
    _check_distinct_builds(programs, manifest.programs)
    _check_splits(root, manifest)
    return manifest


def _toolchain(reader: FieldReader) -> Toolchain:
    reader.check_keys({"compiler", "compiler_package", "compiler_version", "opt_levels", "cflags"})
    opt_levels = reader.text_list("opt_levels")
    for level in opt_levels:
        if level not in OPT_LEVELS:
            reader.fail(f"{reader.field_path('opt_levels')}: {level!r} is not an optimisation level",
                        f"use names without the dash, from {', '.join(OPT_LEVELS)}")
    cflags = _debug_cflags(reader)
    return Toolchain(reader.text("compiler"), reader.text("compiler_package"), reader.text("compiler_version"),
                     opt_levels, cflags)


def _splits(reader: FieldReader) -> dict[str, tuple[str, ...]]:
    reader.check_keys(set(SPLIT_NAMES))
    return {name: reader.text_list(name, []) for name in SPLIT_NAMES}


def _project(reader: FieldReader) -> str:
    project = reader.text("project")
    if not _PROJECT_NAME.match(project):
        reader.fail(f"{reader.field_path('project')}={project!r} is invalid: "
                    "must start with a letter or digit and contain only letters, digits and _.+-",
                    "use the upstream project name, such as openssl")
    if project.lower() in EXCLUDED_PROJECTS:
        reader.fail(f"{reader.field_path('project')}={project!r} is excluded from training corpora",
                    _EXCLUSION_FIX)
    return project


def _package(reader: FieldReader, key: str = "package") -> str:
    package = reader.text(key)
    if not _PACKAGE_NAME.match(package):
        reader.fail(f"{reader.field_path(key)}={package!r} is invalid: must start with a letter or digit and "
                    "contain only letters, digits and _.+-", "write the Debian or PyPI package name")
    if EXCLUDED_PACKAGE.match(package):
        reader.fail(f"{reader.field_path(key)}={package!r} is excluded from training corpora",
                    _EXCLUSION_FIX)
    return package


def _version(reader: FieldReader) -> str:
    version = reader.text("version")
    if not _VERSION.match(version):
        reader.fail(f"{reader.field_path('version')}={version!r} is invalid: must start with a letter or digit "
                    "and contain only letters, digits and .+~:!-", "write the version as apt-cache or PyPI shows it")
    return version


def _library_file(reader: FieldReader) -> str:
    """Return a library's file: a path inside lib_dir (no '..' part) or an absolute path."""
    file = reader.text("file")
    if not Path(file).is_absolute() and ".." in Path(file).parts:
        reader.fail(f"{reader.field_path('file')}={file!r} leaves lib_dir through '..'",
                    "give a file name inside lib_dir, or an absolute path")
    return file


def _library_package(reader: FieldReader) -> LibraryPackage:
    reader.check_keys({"package", "version", "libraries", "note"})
    libraries = []
    for entry in reader.children("libraries"):
        entry.check_keys({"file", "project", "relink", "link_libs", "note"})
        link_libs = entry.text_list("link_libs") if "link_libs" in entry.data else None
        libraries.append(Library(_library_file(entry), _project(entry), entry.boolean("relink", True), link_libs))
    return LibraryPackage(_package(reader), _version(reader), tuple(libraries))


def _compiled(reader: FieldReader, kind: str) -> CompiledSource:
    name_key = "name" if kind == "sdists" else "package"
    allowed = {name_key, "version", "project", "sources", "exclude", "include_dirs", "defines", "cflags",
               "link_libs", "generated_files", "note"}
    if kind == "sdists":
        allowed.add("sha256")
    reader.check_keys(allowed)
    sha256 = reader.optional_text("sha256")
    if sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", sha256):
        reader.fail(f"{reader.field_path('sha256')}={sha256!r} is invalid: must be 64 lowercase hex digits",
                    "copy the sha256 from the lock file or from PyPI")
    generated = reader.child("generated_files", {})
    for key in ("sources", "exclude", "include_dirs"):
        for pattern in reader.text_list(key, []):
            _check_tree_path(reader, key, pattern)
    for relative in generated.data:
        _check_tree_path(reader, "generated_files", relative)
        generated.text(relative)
    return CompiledSource(
        kind=kind,
        name=_package(reader, name_key),
        version=_version(reader),
        project=_project(reader),
        sources=reader.text_list("sources"),
        exclude=reader.text_list("exclude", []),
        include_dirs=reader.text_list("include_dirs", []),
        defines=reader.text_list("defines", []),
        cflags=reader.text_list("cflags", []),
        link_libs=reader.text_list("link_libs", []),
        sha256=sha256,
        generated_files={relative: generated.data[relative] for relative in generated.data},
    )


def _debug_cflags(reader: FieldReader) -> tuple[str, ...]:
    """Return the cflags field, which must contain -g."""
    cflags = reader.text_list("cflags")
    if any(flag != flag.strip() or " " in flag for flag in cflags):
        reader.fail(f"{reader.field_path('cflags')}={list(cflags)!r} is invalid: a flag contains a space",
                    "write each flag as its own list element")
    debug_flags = [flag for flag in cflags if flag.startswith("-g") and flag[2:3] in ("", "0", "1", "2", "3", "d")]
    if not debug_flags or debug_flags[-1] == "-g0":
        reader.fail(f"{reader.field_path('cflags')}={list(cflags)!r} is invalid: must contain -g (and no -g0 after it)",
                    "the DWARF join that fills source_code needs debug information")
    return cflags


def _program_flags(reader: FieldReader) -> ProgramFlags:
    flags = ProgramFlags(_debug_cflags(reader), reader.text_list("cppflags", []), reader.text_list("ldflags", []))
    if flags.opt_level not in OPT_LEVELS:
        reader.fail(f"{reader.field_path('cflags')}: -{flags.opt_level} is not an optimisation level",
                    f"use one of {', '.join('-' + level for level in OPT_LEVELS)}")
    return flags


def _program(reader: FieldReader) -> ProgramSource:
    reader.check_keys({"package", "version", "project", "programs", "configure_args", "make_args", "note"})
    programs = reader.text_list("programs")
    if not programs:
        reader.fail(f"{reader.field_path('programs')}: must name at least one program",
                    "list the executables that the build writes, relative to the source tree, such as src/grep")
    for relative in programs:
        _check_tree_path(reader, "programs", relative)
        parts = relative.split("/")
        if any(part in ("", ".") for part in parts) or not relative.isprintable() or relative != relative.strip():
            reader.fail(f"{reader.field_path('programs')}: {relative!r} is not the plain path of a file",
                        "write the executable's path relative to the source tree, such as src/grep")
    stems = [program_stem(program) for program in programs]
    if len(set(stems)) != len(stems):
        reader.fail(f"{reader.field_path('programs')}: lists a program twice, or two whose paths give one file "
                    "name with / written as __", "list each program once")
    return ProgramSource(_package(reader), _version(reader), _project(reader), programs,
                         reader.text_list("configure_args", []), reader.text_list("make_args", []))


def _check_tree_path(reader: FieldReader, key: str, relative: str) -> None:
    if relative.startswith("/") or ".." in Path(relative).parts:
        reader.fail(f"{reader.field_path(key)}: {relative!r} is invalid: must stay inside the source tree",
                    "write paths relative to the unpacked source tree, without '..'")


def program_stem(program: str) -> str:
    """Return the file name of a program's copy: its path in the tree with ``/`` written as ``__``."""
    return program.replace("/", "__")


def _debug_package(reader: FieldReader) -> DebugPackage:
    reader.check_keys({"package", "version", "project", "runtime_packages", "exclude", "note"})
    runtime = []
    for entry in reader.children("runtime_packages"):
        entry.check_keys({"package", "version"})
        runtime.append(PackageVersion(_package(entry), _version(entry)))
    if not runtime:
        reader.fail(f"{reader.field_path('runtime_packages')}: must name at least one package",
                    "list the packages whose stripped files the debug package describes")
    return DebugPackage(_package(reader), _version(reader), _project(reader), tuple(runtime),
                        reader.text_list("exclude", []))


def _check_distinct_builds(reader: FieldReader, entries: tuple[ProgramSource, ...]) -> None:
    """Reject two program entries of one package version: they would share one build folder."""
    seen: set[tuple[str, str]] = set()
    for number, entry in enumerate(entries):
        if (entry.name, entry.version) in seen:
            reader.fail(f"{reader.field_path('packages')}[{number}]: {entry.name} {entry.version} is listed twice",
                        "merge the two entries into one (their builds share a folder)")
        seen.add((entry.name, entry.version))


def _check_splits(root: FieldReader, manifest: Manifest) -> None:
    known = manifest.projects()
    seen: dict[str, str] = {}
    for split_name, projects in manifest.splits.items():
        for project in projects:
            if project not in known:
                root.fail(f"splits.{split_name}: project {project!r} is not built by any source entry",
                          f"choose from: {', '.join(sorted(known))}")
            if project in seen:
                root.fail(f"splits.{split_name}: project {project!r} is also in splits.{seen[project]}",
                          "put each project in one split only")
            seen[project] = split_name
