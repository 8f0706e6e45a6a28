#!/usr/bin/env python3
"""Time extraction against objdump, naming throughput, and peak memory while naming.

Usage:
    python benchmarks/speed_benchmark.py extract [ARCHIVE]      # default libcrypto.a
    python benchmarks/speed_benchmark.py name [BINARY] [FLAG…]  # default the stripped GNU as (775 functions), best of 3;
                                                                # FLAGs go to `binbridge name` (--no_string_names)
    python benchmarks/speed_benchmark.py memory BINARY          # peak RSS of `binbridge name`

Each mode runs the real CLI in a subprocess, so model loading and process start are included.
"""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BINBRIDGE = [sys.executable, "-m", "binbridge.cli"]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def bench_extract(archive: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        objdump = min(timed(["objdump", "-d", "-r", "-M", "intel", archive]) for _ in range(3))
        ours = min(timed([*BINBRIDGE, "extract", archive, "-o", f"{folder}/out.csv", "--no_progress"])
                   for _ in range(3))
        csv.field_size_limit(2**31 - 1)
        with open(f"{folder}/out.csv", newline="", encoding="utf-8") as handle:
            rows = sum(1 for _ in csv.DictReader(handle))
    print(json.dumps({"mode": "extract", "input": archive, "objdump_s": round(objdump, 3),
                      "binbridge_s": round(ours, 3), "ratio": round(ours / objdump, 2), "rows": rows}))


def bench_name(binary: str, flags: list[str], runs: int = 3) -> None:
    """Best of ``runs`` whole CLI runs; single runs on a 2-core AMD EPYC varied by up to 20%."""
    with tempfile.TemporaryDirectory() as folder:
        output = f"{folder}/names.json"
        times = [timed([*BINBRIDGE, "name", binary, "--format", "json", "-o", output, *flags]) for _ in range(runs)]
        functions = json.loads(Path(output).read_text())["functions"]
    sources = {source: sum(f["source"] == source for f in functions) for source in ("symbol", "signature", "string", "cold", "words", "model")}
    seconds = min(times)
    print(json.dumps({"mode": "name", "input": binary, "flags": flags, "functions": len(functions),
                      "sources": sources, "seconds": round(seconds, 2), "all_seconds": [round(t, 2) for t in times],
                      "functions_per_second": round(len(functions) / seconds, 1)}))


def bench_memory(binary: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        output = f"{folder}/names.json"
        seconds = timed([*BINBRIDGE, "name", binary, "--format", "json", "-o", output])
        functions = len(json.loads(Path(output).read_text())["functions"])
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"mode": "memory", "input": binary, "functions": functions, "seconds": round(seconds, 1),
                      "peak_rss_mib": round(peak_kib / 1024, 1)}))


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "name"
    target = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("-") else None
    flags = sys.argv[3 if target else 2:]
    if mode == "extract":
        bench_extract(target or "/usr/lib/x86_64-linux-gnu/libcrypto.a")
    elif mode == "name":
        bench_name(target or "/usr/bin/x86_64-linux-gnu-as", flags)
    elif mode == "memory" and target:
        bench_memory(target)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
