#!/usr/bin/env python3
"""Name statically linked, stripped programs and score the names against their unstripped twins.

Static linking copies library code (libc, zlib, SQLite, OpenSSL) into the
program, so a stripped static binary is mostly code that Binbridge's corpus
holds. This benchmark builds three small programs with `gcc -static` against
this machine's Debian static libraries (the corpus's `libs` source), strips a
copy of each, names it with `binbridge name`'s code path and joins the names
to the unstripped twin's symbols by address.

The corpus was built from these same archives, so this measures the best case
for signatures: the exact library versions and compiler. Programs built
elsewhere match less.

Usage:
    apt-get install libsqlite3-dev libssl-dev zlib1g-dev
    python benchmarks/static_benchmark.py [--model_path DIR] [--no_signatures] [-o OUT_DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from binutils_benchmark import debug_symbols, truth_rows, write_and_score

from binbridge.inference.naming import name_binary
from binbridge.inference.predictor import NamePredictor

PROGRAMS = {
    "zpipe": ("""
#include <stdio.h>
#include <string.h>
#include <zlib.h>
int main(int argc, char **argv) {
    unsigned char out[4096], back[4096]; uLongf n = sizeof out, m = sizeof back;
    const char *text = argc > 1 ? argv[1] : "hello hello hello";
    if (compress2(out, &n, (const Bytef *)text, strlen(text) + 1, 9) != Z_OK) return 1;
    if (uncompress(back, &m, out, n) != Z_OK) return 2;
    gzFile f = gzopen(argc > 2 ? argv[2] : "/dev/null", "wb");
    gzprintf(f, "%s\\n", text); gzclose(f);
    printf("%s %lu %lx\\n", back, (unsigned long)n, crc32(adler32(0, out, n), out, n));
    return 0;
}
""", ["-lz"]),
    "sqlq": ("""
#include <stdio.h>
#include <sqlite3.h>
static int row(void *u, int n, char **v, char **c) { for (int i = 0; i < n; i++) printf("%s=%s ", c[i], v[i]); puts(""); return 0; }
int main(int argc, char **argv) {
    sqlite3 *db; char *error = 0;
    if (sqlite3_open(argc > 1 ? argv[1] : ":memory:", &db) != SQLITE_OK) return 1;
    sqlite3_exec(db, argc > 2 ? argv[2] : "select sqlite_version()", row, 0, &error);
    if (error) { fprintf(stderr, "%s\\n", error); sqlite3_free(error); }
    return sqlite3_close(db);
}
""", ["-lsqlite3", "-lm"]),
    "sha": ("""
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
int main(int argc, char **argv) {
    unsigned char digest[EVP_MAX_MD_SIZE]; unsigned int n = 0;
    const char *text = argc > 1 ? argv[1] : "abc";
    const EVP_MD *md = EVP_get_digestbyname(argc > 2 ? argv[2] : "SHA256");
    if (!md || !EVP_Digest(text, strlen(text), digest, &n, md, NULL)) return 1;
    for (unsigned int i = 0; i < n; i++) printf("%02x", digest[i]);
    puts("");
    return 0;
}
""", ["-lcrypto", "-lz", "-lzstd"]),
}


def build(directory: Path, name: str, source: str, libraries: list[str]) -> tuple[Path, Path] | None:
    """Compile NAME statically and strip a copy; return (stripped, unstripped), or None when linking fails."""
    source_path = directory / f"{name}.c"
    source_path.write_text(source)
    unstripped = directory / name
    linked = subprocess.run(["gcc", "-O2", "-static", str(source_path), "-o", str(unstripped), *libraries],
                            capture_output=True, text=True)
    if linked.returncode != 0:
        print(f"skip {name}: {linked.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    stripped = directory / f"{name}.stripped"
    subprocess.run(["strip", "-o", str(stripped), str(unstripped)], check=True)
    return stripped, unstripped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_path", help="model folder (default: the embedded model)")
    parser.add_argument("--no_signatures", action="store_true", help="ignore the model folder's signatures.json")
    parser.add_argument("-o", "--output_dir", default="work/bench/static", help="output folder")
    args = parser.parse_args()
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    started = time.time()
    predictor = NamePredictor.from_path(args.model_path, model_signatures=not args.no_signatures)
    rows = []
    for name, (source, libraries) in PROGRAMS.items():
        built = build(out_dir, name, source, libraries)
        if built is None:
            continue
        stripped, unstripped = built
        truth = debug_symbols(unstripped)
        functions = name_binary(stripped, predictor, unique=False).functions
        rows += truth_rows(truth, functions, name, "static")
        print(f"{name}: {len(truth)} symbols, {len(functions)} functions found", file=sys.stderr)
    write_and_score(rows, out_dir, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
