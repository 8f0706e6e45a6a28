#!/usr/bin/env python3
"""Build the training corpus of the embedded default model from this machine's static libraries.

Usage: python scripts/default_corpus.py OUT_DIR

Extracts every C static library listed below with `binbridge extract` and
maps library files to the project they come from (libssl and libcrypto are
both OpenSSL). It caps the largest projects so that no single code base
dominates, then splits by project with `binbridge split`.
"""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from pathlib import Path

LIB_DIR = Path("/usr/lib/x86_64-linux-gnu")
PYTHON_LIB = Path("/usr/lib/python3.11/config-3.11-x86_64-linux-gnu/libpython3.11.a")

# Library file stem (after "lib", before ".a") -> project. Stems not listed are their own project.
PROJECT_OF = {
    "c": "glibc", "m-2.36": "glibc", "mvec": "glibc", "crypt": "libxcrypt", "resolv": "glibc", "anl": "glibc",
    "dl": "glibc", "pthread": "glibc", "rt": "glibc", "util": "glibc", "nsl": "libnsl",
    "crypto": "openssl", "ssl": "openssl",
    "gnutls": "gnutls", "gnutls-openssl": "gnutls", "gnutls-dane": "gnutls",
    "ncurses": "ncurses", "tinfo": "ncurses", "form": "ncurses", "menu": "ncurses", "panel": "ncurses",
    "tic": "ncurses",
    "readline": "readline", "history": "readline",
    "nettle": "nettle", "hogweed": "nettle",
    "xmlsec1": "xmlsec1", "xmlsec1-openssl": "xmlsec1", "xmlsec1-nss": "xmlsec1", "xmlsec1-gcrypt": "xmlsec1",
    "xmlsec1-gnutls": "xmlsec1",
    "brotlienc": "brotli", "brotlidec": "brotli", "brotlicommon": "brotli",
    "nspr4": "nspr", "plc4": "nspr", "plds4": "nspr", "crmf": "nss",
    "tcl8.6": "tcl", "tk8.6": "tk", "python3.11": "cpython",
}
# Duplicates of another listed library (wide-character builds, PIC copies), linker scripts, C++ libraries.
SKIP = {"icudata", "icui18n", "icuuc", "icuio", "icutu", "icutest", "gnutlsxx", "ncurses++", "ncurses++w", "gmpxx",
        "expatw", "m", "ffi_pic", "c_nonshared", "mcheck", "g", "BrokenLocale", "pthread_nonshared",
        "tclstub8.6", "tkstub8.6", "formw", "menuw", "panelw", "ncursesw"}
EVAL_PROJECTS = ["png16", "yaml", "magic", "z", "bz2"]
TEST_PROJECTS = ["expat", "jpeg", "lzma"]
MAX_ROWS_PER_PROJECT = 4000
SEED = 0


def library_inputs() -> list[Path]:
    inputs = []
    for path in sorted(LIB_DIR.glob("lib*.a")):
        stem = path.name[3:-2]
        if path.is_symlink() or stem in SKIP:
            continue
        inputs.append(path)
    if PYTHON_LIB.is_file():
        inputs.append(PYTHON_LIB)
    return inputs


def main() -> int:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "work/default_corpus")
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / "extracted.csv"
    subprocess.run(["binbridge", "extract", *map(str, library_inputs()), "-o", str(raw), "--no_progress"], check=True)

    csv.field_size_limit(2**31 - 1)
    with raw.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames
        rows = list(reader)
    by_project: dict[str, list[dict]] = {}
    for row in rows:
        row["project"] = PROJECT_OF.get(row["project"], row["project"])
        by_project.setdefault(row["project"], []).append(row)
    rng = random.Random(SEED)
    capped = []
    for project in sorted(by_project):
        project_rows = by_project[project]
        rng.shuffle(project_rows)
        capped += project_rows[:MAX_ROWS_PER_PROJECT]

    projected = out_dir / "projects.csv"
    with projected.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(capped)
    subprocess.run(["binbridge", "split", str(projected), "--eval_projects", ",".join(EVAL_PROJECTS),
                    "--test_projects", ",".join(TEST_PROJECTS), "-o", str(out_dir)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
