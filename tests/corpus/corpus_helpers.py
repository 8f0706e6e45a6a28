"""Helpers shared by the corpus-builder tests: tool runners, a readelf DIE lookup and manifest templates."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parent / "sources"
TEST_VERSION = "1.0-test"


def require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} on PATH")


def run_tool(*command: str | Path, cwd: Path | None = None) -> str:
    completed = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=True)
    return completed.stdout


def subprogram_attributes(object_file: Path, name: str) -> str:
    """Return the readelf --debug-dump=info text of the DW_TAG_subprogram DIE named name."""
    dump = run_tool("readelf", "--debug-dump=info", object_file)
    for block in re.split(r"\n(?= <\d+><[0-9a-f]+>: Abbrev Number)", dump):
        if "DW_TAG_subprogram" in block and re.search(rf"DW_AT_name\s*:.*\b{name}\s*$", block, re.MULTILINE):
            return block
    return ""


def base_manifest(lib_dir: Path, packages: list[dict], splits: dict | None = None) -> dict:
    return {
        "format_version": 1,
        "toolchain": {"compiler": "gcc", "compiler_package": "gcc-12", "compiler_version": "12.2.0-14+deb12u1",
                      "opt_levels": ["O0", "O2"], "cflags": ["-g"]},
        "splits": splits if splits is not None else {"eval": ["beta"], "test": []},
        "sources": {"libs": {"lib_dir": str(lib_dir), "packages": packages}},
    }


@dataclass(frozen=True)
class TinyLibraries:
    """Two static libraries compiled with gcc -g -O2 from tests/corpus/sources."""

    lib_dir: Path
    alpha: Path
    beta: Path
    alpha_math_object: Path
    manifest: Path
