"""Compile the C files of a source tree at one optimisation level into a static library."""

from __future__ import annotations

import fnmatch
import logging
import shutil
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from binbridge.corpus.manifest import CompiledSource
from binbridge.corpus.tools import CommandError, run_command

logger = logging.getLogger(__name__)

COMPILE_TIMEOUT_S = 1800
# Placeholder in include_dirs for the headers of the running Python, which C extension sources need.
PYTHON_INCLUDE = "{python_include}"


@dataclass
class CompiledArchive:
    """A static library of one source tree at one level, and the files that did not compile."""

    archive: Path | None
    """None when no file compiled."""
    objects: int
    failed_files: list[str] = field(default_factory=list)
    first_error: str = ""


def select_sources(tree: Path, source: CompiledSource) -> list[Path]:
    """Return the C files that the manifest's source patterns match, minus the excluded ones, sorted."""
    selected: set[Path] = set()
    for pattern in source.sources:
        selected.update(path for path in tree.glob(pattern) if path.is_file() and path.suffix == ".c")
    relative = {path: path.relative_to(tree).as_posix() for path in selected}
    included = [path for path in selected
                if not any(fnmatch.fnmatchcase(relative[path], pattern) for pattern in source.exclude)]
    return sorted(included)


def include_arguments(tree: Path, source: CompiledSource) -> list[str]:
    arguments = []
    for directory in source.include_dirs:
        if directory == PYTHON_INCLUDE:
            arguments.append(f"-I{sysconfig.get_paths()['include']}")
        else:
            arguments.append(f"-I{tree / directory}")
    return arguments


def compile_archive(tree: Path, source: CompiledSource, opt_level: str, base_cflags: tuple[str, ...],
                    build_dir: Path) -> CompiledArchive:
    """Compile every selected C file with ``gcc BASE_CFLAGS -OLEVEL`` and archive the objects.

    A file that fails to compile is logged and left out, so one file that
    needs a configure-generated header does not cost the whole package.
    """
    tree = tree.absolute()
    build_dir = build_dir.absolute()
    for relative, text in source.generated_files.items():
        (tree / relative).write_text(text, encoding="utf-8")
    if build_dir.exists():
        shutil.rmtree(build_dir)
    object_dir = build_dir / "objects"
    object_dir.mkdir(parents=True)
    flags = [*base_cflags, f"-{opt_level}", *source.cflags, *(f"-D{define}" for define in source.defines),
             *include_arguments(tree, source)]
    result = CompiledArchive(archive=None, objects=0)
    objects = []
    for path in select_sources(tree, source):
        relative = path.relative_to(tree)
        target = object_dir / (relative.as_posix().replace("/", "__")[:-2] + ".o")
        try:
            run_command(["gcc", *flags, "-c", path, "-o", target], cwd=tree, timeout=COMPILE_TIMEOUT_S)
        except CommandError as error:
            result.failed_files.append(relative.as_posix())
            result.first_error = result.first_error or str(error)
            logger.debug("%s: %s", source.name, error)
            continue
        objects.append(target)
    if result.failed_files:
        logger.warning("%s %s -%s: %d of %d C files failed to compile and are left out, first: %s",
                       source.name, source.version, opt_level, len(result.failed_files),
                       len(result.failed_files) + len(objects), result.failed_files[0])
    if not objects:
        return result
    archive = build_dir / f"lib{source.project}-{opt_level}.a"
    run_command(["ar", "rcsD", archive, *objects])
    result.archive = archive
    result.objects = len(objects)
    return result
