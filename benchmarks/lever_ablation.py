#!/usr/bin/env python3
"""Hide one signal of the normalised assembly, to measure what it contributes to naming.

Writes copies of dataset CSVs in which one lever is masked in every row:

- imports:   `call <malloc>` -> `call <import>` (the import's name is hidden)
- strings:   `[rip + "usage: %s"]` -> `[rip + STR]`
- constants: immediates and displacements `0x40`, `16`, `-8` -> `CONST`

Usage:
    python benchmarks/lever_ablation.py LEVER OUT_DIR DATASET.csv [DATASET.csv ...]

Train and score one model per lever with the same flags as the full model
(binbridge train, then benchmarks/heldout_benchmark.py) and compare.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

IMPORT = re.compile(r"<[^<>\s]+>")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
# Numbers that are operands: not inside labels (.L12), register names (r12d) or identifiers.
CONSTANT = re.compile(r"(?<![\w.])-?(?:0x[0-9a-f]+|\d+)\b")

LEVERS = {
    "imports": lambda text: IMPORT.sub("<import>", text),
    "strings": lambda text: STRING.sub("STR", text),
    "constants": lambda text: "\n".join(_mask_constants(line) for line in text.split("\n")),
}


def _mask_constants(line: str) -> str:
    # Keep string literals untouched while masking numbers around them.
    pieces = STRING.split(line)
    literals = STRING.findall(line)
    masked = [CONSTANT.sub("CONST", piece) for piece in pieces]
    out = masked[0]
    for literal, piece in zip(literals, masked[1:]):
        out += literal + piece
    return out


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[1] not in LEVERS:
        print(__doc__, file=sys.stderr)
        return 2
    lever, out_dir, inputs = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    out_dir.mkdir(parents=True, exist_ok=True)
    mask = LEVERS[lever]
    csv.field_size_limit(2**31 - 1)
    for name in inputs:
        target = out_dir / Path(name).name
        with open(name, newline="", encoding="utf-8") as source, target.open("w", newline="", encoding="utf-8") as sink:
            reader = csv.DictReader(source)
            writer = csv.DictWriter(sink, fieldnames=reader.fieldnames)
            writer.writeheader()
            for row in reader:
                row["assembly"] = mask(row["assembly"])
                writer.writerow(row)
        print(f"{lever}: wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
