#!/usr/bin/env python3
"""Check the library prefix that a library without exports gets against the one its exports show.

A stripped shared library exports its API by name, and ``exported_prefix`` reads the
library's namespace from those names. A static library linked into a program keeps no
names, so ``binbridge name`` falls back to the identifiers in its read-only strings
(``string_prefix``) and then to the file name. This script hides the exports of real shared
libraries and counts how often each fallback gives the namespace that the exports show
(compared in lower case, as the SymLM-style and XFL-style metrics mostly do).

Usage:
    python benchmarks/prefix_benchmark.py [FOLDER] [--exclude REGEX] [--share 0.2 --minimum 5 ...]

FOLDER defaults to /usr/lib/x86_64-linux-gnu; every ``lib*.so.*`` file in it that is not a
symbolic link is read. ``--exclude`` leaves out libraries whose file name matches (the held-out
projects, when the thresholds are being chosen). With several ``--share`` and ``--minimum``
values, every pair is scored.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from binbridge.binary import function_names, read_only_strings
from binbridge.errors import BinbridgeError
from binbridge.inference.predictor import default_model_path
from binbridge.inference.word_names import (
    GENERIC_WORD_COUNT,
    MIN_STRING_IDENTIFIERS,
    STRING_PREFIX_BYTES,
    STRING_PREFIX_SHARE,
    WordNamer,
    exported_prefix,
    library_prefix,
    string_prefix,
)


@dataclass
class Library:
    """One shared library: its file name, the exports' namespace, its read-only strings."""

    name: str
    exported: str | None
    strings: list[str]


def read_libraries(folder: Path, exclude: re.Pattern[str] | None) -> list[Library]:
    libraries = []
    for path in sorted(folder.glob("lib*.so.*")):
        if path.is_symlink() or (exclude is not None and exclude.search(path.name)):
            continue
        try:
            libraries.append(Library(path.name, exported_prefix(function_names(path)),
                                     read_only_strings(path, STRING_PREFIX_BYTES)))
        except (BinbridgeError, OSError) as error:
            print(f"skipped {path.name}: {error}", file=sys.stderr)
    return libraries


def matches(prefix: str | None, exported: str | None) -> bool:
    return prefix is not None and exported is not None and prefix.lower() == exported.lower()


def fallback_prefix(library: Library, share: float, minimum: int, generic: frozenset[str]) -> str | None:
    """Return the prefix that ``binbridge name`` gives the library without its exports."""
    return string_prefix(library.strings, share, minimum, generic) or library_prefix(library.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="/usr/lib/x86_64-linux-gnu", help="folder of shared libraries")
    parser.add_argument("--exclude", help="regular expression: leave out libraries whose file name matches")
    parser.add_argument("--share", type=float, action="append",
                        help="share of the identifiers that the namespace must start (repeatable; default: shipped)")
    parser.add_argument("--minimum", type=int, action="append",
                        help="identifiers that the namespace must start (repeatable; default: shipped)")
    parser.add_argument("--generic_words", type=int, action="append",
                        help="how many of the name-word model's most common words may not be a namespace when "
                             "they usually stand inside names; 0: none (repeatable; default: shipped)")
    parser.add_argument("--model_path", help="model folder with the name-word model (default: the embedded model)")
    args = parser.parse_args()

    exclude = re.compile(args.exclude) if args.exclude else None
    libraries = read_libraries(Path(args.folder), exclude)
    with_namespace = [library for library in libraries if library.exported]
    file_name_right = sum(matches(library_prefix(library.name), library.exported) for library in with_namespace)
    print(f"{len(libraries)} libraries, {len(with_namespace)} whose exports show a namespace")
    print(f"file name alone: {file_name_right} of {len(with_namespace)} match the exports")

    shares = args.share or [STRING_PREFIX_SHARE]
    minimums = args.minimum or [MIN_STRING_IDENTIFIERS]
    namer = WordNamer.from_folder(args.model_path or default_model_path())
    for count in args.generic_words or [GENERIC_WORD_COUNT]:
        generic = namer.generic_words(count) if namer is not None and count else frozenset()
        for share in shares:
            for minimum in minimums:
                right = sum(matches(fallback_prefix(library, share, minimum, generic), library.exported)
                            for library in with_namespace)
                replaced = sum(fallback_prefix(library, share, minimum, generic) != library_prefix(library.name)
                               for library in libraries if not library.exported)
                print(f"strings, then file name (share {share}, minimum {minimum}, {len(generic)} generic words): "
                      f"{right} of {len(with_namespace)} match; {replaced} libraries without an export namespace "
                      "get the strings' namespace")
    return 0


if __name__ == "__main__":
    sys.exit(main())
