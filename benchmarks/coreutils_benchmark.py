#!/usr/bin/env python3
"""Build GNU coreutils as Debian builds it, name its stripped programs and score the names against their symbols.

Coreutils is excluded from the training corpus (EXCLUDED_PROJECTS in
binbridge.corpus.manifest) because it contains /usr/bin/ls, the program that
`make run` names. Its programs carry gnulib, the GNU portability library that
the corpus's GNU programs (grep, sed, tar and others) also carry. So this
benchmark measures signatures on library code in programs the corpus has not
seen, and the model on the rest.

The stripped binaries in /usr/bin have no symbols to score against, because
Debian publishes -dbgsym packages only in the separate debian-debug archive,
which the usual apt sources do not list. This script instead builds the Debian source
package coreutils 9.1-1 the way the corpus builder builds its "programs"
packages, with `./configure && make` and the dpkg-buildflags flags of
corpus/manifest.json. Because the flags are Debian's, the build is a
substitute for Debian's stripped binaries. Each program is stripped, named
with `binbridge name`'s code path and joined to the unstripped twin's symbols
by address.

Usage:
    python benchmarks/coreutils_benchmark.py [--source_dir DIR] [--programs ls,cp,...] [--model_path DIR]
        [--no_signatures] [--signatures FILE] [--no_string_names] [-o OUT_DIR]

Without --source_dir, `apt-get source coreutils=9.1-1` downloads the tree,
which needs deb-src lines in the apt sources. The build takes several minutes
and is reused by the next run with the same OUT_DIR. Writes
OUT_DIR/predictions.csv and the `binbridge eval` report (report.md,
report.json, chart).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from binutils_benchmark import debug_symbols, truth_rows, write_and_score

from binbridge.corpus.apt import download_source
from binbridge.corpus.manifest import ProgramFlags, ProgramSource, load_manifest, program_stem
from binbridge.corpus.programs import ProgramBuild, build_program_package
from binbridge.corpus.tools import CommandError, run_command
from binbridge.evaluation import PredictionRow, evaluate
from binbridge.inference.naming import name_binary
from binbridge.inference.predictor import NamePredictor

PACKAGE = "coreutils"
VERSION = "9.1-1"
MANIFEST = Path(__file__).resolve().parents[1] / "corpus" / "manifest.json"
PROGRAMS = ["ls", "cp", "mv", "sort", "du", "df", "date", "stat", "tail", "od", "dd", "head", "wc", "cat",
            "chmod", "install", "ln", "rm", "mkdir", "touch"]
# Programs that the coreutils build writes under another name. `make install` renames them.
BUILT_NAMES = {"install": "ginstall"}


def built_path(program: str) -> str:
    """Return the path of an installed program's executable in the build tree (install -> src/ginstall)."""
    return f"src/{BUILT_NAMES.get(program, program)}"


def list_programs(tree: Path) -> set[str]:
    """Return the programs that the tree's build can write, as coreutils' own gen-lists-of-programs.sh lists them.

    NOTE: the list includes arch, coreutils and hostname, which configure leaves out by default, so
    requesting them builds the tree and then skips them.
    """
    listed = run_command(["sh", "build-aux/gen-lists-of-programs.sh", "--list-progs"], cwd=tree, timeout=60)
    return set(listed.output.split())


def print_source_breakdown(rows: list[dict[str, str]]) -> None:
    """Print the function count and scores of each name source (signature, runtime, string, model, cold, symbol).

    Functions that the naming did not find are grouped as "(none)".
    """
    scored = [PredictionRow(row["function_name"], row["predicted_name"], row["name_source"], row["opt_level"])
              for row in rows]
    # evaluate() breaks scores down by the project field, which here contains the name source.
    by_source = evaluate(scored).by_project
    print("by name source:")
    for source, scores in sorted(by_source.items(), key=lambda item: -item[1].functions):
        print(f"  {source:<10} {scores.functions:>6} functions, XFL-style F1 {scores.xfl.f1:.4f}, "
              f"SymLM-style F1 {scores.symlm.f1:.4f}, exact {scores.xfl.exact_match:.3f}")


def build_coreutils(source_dir: str | None, programs: list[str], flags: ProgramFlags, out_dir: Path) -> ProgramBuild:
    """Get the coreutils tree (source_dir, or a download into out_dir) and build it in out_dir/build.

    A finished build is reused. Raises CommandError when the download or build
    fails, and ValueError for a program name that the tree cannot build.
    """
    tree = Path(source_dir) if source_dir else download_source(PACKAGE, VERSION, out_dir / "download")

    # A mistyped name would cost a whole build before it is reported, so names are checked first.
    known = list_programs(tree)
    unknown = [name for name in programs if BUILT_NAMES.get(name, name) not in known]
    if unknown:
        raise ValueError(f"coreutils {VERSION} has no program {', '.join(unknown)}; "
                         f"choose from {', '.join(sorted(known))}")

    source = ProgramSource(PACKAGE, VERSION, PACKAGE, tuple(built_path(name) for name in programs), (), ())
    return build_program_package(tree, source, flags, out_dir / "build", os.cpu_count() or 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source_dir",
                        help="unpacked coreutils 9.1-1 source tree (default: download it with apt-get source)")
    parser.add_argument("--programs", help=f"comma-separated program names (default: {', '.join(PROGRAMS)})")
    parser.add_argument("--model_path", help="model folder (default: the embedded model)")
    parser.add_argument("--no_string_names", action="store_true",
                        help="decode every name, ignoring __func__ strings (with --no_signatures: the model alone)")
    parser.add_argument("--no_signatures", action="store_true", help="ignore the model folder's signatures.json")
    parser.add_argument("--signatures", action="append", default=[], metavar="FILE",
                        help="extra signature file from 'binbridge signatures' (repeatable)")
    parser.add_argument("-o", "--output_dir", default="work/bench/coreutils",
                        help="output folder; the download and build are kept in it for the next run "
                             "(default: work/bench/coreutils)")
    args = parser.parse_args()
    programs = PROGRAMS
    if args.programs is not None:
        programs = list(dict.fromkeys(name.strip() for name in args.programs.split(",") if name.strip()))
    if not programs:
        parser.error("--programs contains no program names; pass names such as ls,cp")
    if args.source_dir and not Path(args.source_dir).is_dir():
        parser.error(f"--source_dir {args.source_dir} is not a directory; "
                     "pass the unpacked coreutils 9.1-1 source tree")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    started = time.time()
    flags = load_manifest(MANIFEST).program_flags
    try:
        build = build_coreutils(args.source_dir, programs, flags, out_dir)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except CommandError as error:
        print(f"error: building {PACKAGE} {VERSION} failed: {error}", file=sys.stderr)
        return 1
    for path in build.missing:
        print(f"skip {path}: the build did not write it", file=sys.stderr)
    if build.make_errors:
        print(f"make errors:\n{build.make_errors}", file=sys.stderr)
    print(f"build ready after {time.time() - started:.0f} s", file=sys.stderr)

    predictor = NamePredictor.from_path(args.model_path, string_names=not args.no_string_names,
                                        model_signatures=not args.no_signatures, signature_files=args.signatures)
    names_by_stem = {program_stem(built_path(name)): name for name in programs}
    rows = []
    for twin in build.twins:
        program = names_by_stem[twin.unstripped.name]
        truth = debug_symbols(twin.unstripped)
        naming = name_binary(twin.stripped, predictor, unique=False, string_names=not args.no_string_names)
        rows += truth_rows(truth, naming.functions, program, flags.opt_level)
        print(f"{program}: {len(truth)} symbols, {len(naming.functions)} functions found", file=sys.stderr)
    if not rows:
        print("error: no program was built, so there is nothing to score", file=sys.stderr)
        return 1
    write_and_score(rows, out_dir, started)
    print_source_breakdown(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
