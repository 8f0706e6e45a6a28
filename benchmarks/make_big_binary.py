#!/usr/bin/env python3
"""Build a stripped PIE with many small functions, for the peak-memory benchmark.

Usage:
    python benchmarks/make_big_binary.py OUT_DIR [FUNCTIONS]   # default 50,000 functions

Writes OUT_DIR/big.c, OUT_DIR/big (with symbols) and OUT_DIR/big.stripped,
compiled by gcc at -O0 (about 20 s for 50,000 functions). Each function
compares its argument, calls printf with a format string or strlen, so the
functions differ in constants and strings but not in shape. Then:

    python benchmarks/speed_benchmark.py memory OUT_DIR/big.stripped
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) == 3 else 50_000
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["#include <stdio.h>", "#include <string.h>"]
    for i in range(count):
        lines.append(f"int f{i}(int x, const char *s) {{ if (x > {i % 97}) "
                     f"return printf(\"value %d of f{i % 500}\\n\", x); return (int)strlen(s) + x * {i % 13}; }}")
    lines.append("int main(int argc, char **argv) { return f0(argc, argv[0]); }")
    source = out_dir / "big.c"
    source.write_text("\n".join(lines) + "\n")
    subprocess.run(["gcc", "-O0", "-fPIE", "-pie", "-o", str(out_dir / "big"), str(source)], check=True)
    subprocess.run(["strip", "-o", str(out_dir / "big.stripped"), str(out_dir / "big")], check=True)
    print(out_dir / "big.stripped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
