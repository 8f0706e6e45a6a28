#!/usr/bin/env python3
"""Name the stripped Debian binutils programs and score the names against their debug symbols.

The programs in /usr/bin (package binutils-x86-64-linux-gnu) are stripped
distribution builds; binutils-x86-64-linux-gnu-dbg ships their symbol tables
as /usr/lib/debug/.build-id/XX/YYYY.debug. Functions are found and named in
the stripped file exactly as a user would (`binbridge name`), then joined to
the debug symbols by address.

Usage:
    apt-get install binutils-x86-64-linux-gnu-dbg
    python benchmarks/binutils_benchmark.py [--model_path DIR] [-o OUT_DIR]

Writes OUT_DIR/predictions.csv and the `binbridge eval` report (report.md, report.json, chart).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from elftools.elf.elffile import ELFFile

from binbridge.data.names import split_clone_suffix
from binbridge.evaluation import run_eval
from binbridge.inference.naming import name_binary
from binbridge.inference.predictor import NamePredictor

PROGRAMS = ["addr2line", "ar", "as", "c++filt", "elfedit", "gprof", "ld.bfd", "ld.gold", "nm", "objcopy",
            "objdump", "ranlib", "readelf", "size", "strings", "strip"]
BIN_DIR = Path("/usr/bin")
DEBUG_DIR = Path("/usr/lib/debug/.build-id")


def build_id(path: Path) -> str | None:
    with path.open("rb") as handle:
        elf = ELFFile(handle)
        for section in elf.iter_sections():
            if section.header.sh_type != "SHT_NOTE":
                continue
            for note in section.iter_notes():
                if note["n_type"] == "NT_GNU_BUILD_ID":
                    return note["n_desc"]
    return None


def debug_symbols(path: Path) -> dict[int, str]:
    """Map function start address -> name from a .debug file's symbol table."""
    names: dict[int, str] = {}
    with path.open("rb") as handle:
        symtab = ELFFile(handle).get_section_by_name(".symtab")
        for symbol in symtab.iter_symbols() if symtab else []:
            if symbol["st_info"]["type"] == "STT_FUNC" and symbol["st_value"] and symbol.name:
                # Prefer the shortest alias at an address (foo over foo.localalias).
                current = names.get(symbol["st_value"])
                if current is None or len(symbol.name) < len(current):
                    names[symbol["st_value"]] = symbol.name
    return names


def truth_rows(truth: dict[int, str], functions, project: str, opt_level: str) -> list[dict[str, str]]:
    """Join named functions to the true names by address: one row per true function, scored by ``run_eval``."""
    predicted = {f.address: f for f in functions}
    rows = []
    for address, name in sorted(truth.items()):
        function = predicted.get(address)
        rows.append({"function_name": split_clone_suffix(name).base,
                     "predicted_name": function.name if function else "",
                     "confidence": f"{function.confidence:.4f}" if function else "",
                     "name_source": function.source if function else "",
                     "project": project, "opt_level": opt_level, "address": f"0x{address:x}"})
    return rows


def write_and_score(rows: list[dict[str, str]], out_dir: Path, started: float) -> None:
    """Write OUT_DIR/predictions.csv, the eval report beside it, and print the overall scores."""
    predictions = out_dir / "predictions.csv"
    with predictions.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
    overall = run_eval(predictions, out_dir).overall
    print(f"{overall.functions} functions, coverage {overall.coverage:.3f}, "
          f"XFL-style F1 {overall.xfl.f1:.4f}, SymLM-style F1 {overall.symlm.f1:.4f}, "
          f"exact {overall.xfl.exact_match:.3f}, {time.time() - started:.0f} s; report in {out_dir / 'report.md'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_path", help="model folder (default: the embedded model)")
    parser.add_argument("--no_string_names", action="store_true",
                        help="decode every name, ignoring __func__ strings (measures the model alone)")
    parser.add_argument("--no_cold_parts", action="store_true",
                        help="let the model name cold parts instead of naming them after their functions")
    parser.add_argument("--no_signatures", action="store_true", help="ignore the model folder's signatures.json")
    parser.add_argument("--signatures", action="append", default=[], metavar="FILE",
                        help="extra signature file from 'binbridge signatures' (repeatable)")
    parser.add_argument("-o", "--output_dir", default="work/bench/binutils", help="output folder")
    args = parser.parse_args()
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    started = time.time()
    predictor = NamePredictor.from_path(args.model_path, string_names=not args.no_string_names,
                                        model_signatures=not args.no_signatures, signature_files=args.signatures)
    rows = []
    for program in PROGRAMS:
        binary = BIN_DIR / f"x86_64-linux-gnu-{program}"
        if not binary.is_file():
            print(f"skip {program}: {binary} not found", file=sys.stderr)
            continue
        identifier = build_id(binary)
        debug = DEBUG_DIR / identifier[:2] / f"{identifier[2:]}.debug" if identifier else None
        if debug is None or not debug.is_file():
            print(f"skip {program}: no debug file (install binutils-x86-64-linux-gnu-dbg)", file=sys.stderr)
            continue
        truth = debug_symbols(debug)
        naming = name_binary(binary, predictor, unique=False, cold_parts=not args.no_cold_parts,
                             string_names=not args.no_string_names)
        rows += truth_rows(truth, naming.functions, program, "distro")
        print(f"{program}: {len(truth)} symbols, {len(naming.functions)} functions found", file=sys.stderr)
    write_and_score(rows, out_dir, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
