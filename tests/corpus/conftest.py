"""Fixtures of the corpus-builder tests: two tiny static libraries built with gcc during the run, and a manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from corpus_helpers import SOURCES, TEST_VERSION, TinyLibraries, base_manifest, require_tools, run_tool


@pytest.fixture(scope="session")
def tiny_libraries(tmp_path_factory: pytest.TempPathFactory) -> TinyLibraries:
    require_tools("gcc", "ar", "strip", "readelf", "nm")
    root = tmp_path_factory.mktemp("tiny_libraries")
    lib_dir = root / "lib"
    lib_dir.mkdir()
    archives = {}
    for project in ("alpha", "beta"):
        source_dir = root / project
        shutil.copytree(SOURCES / project, source_dir)
        objects = []
        for source in sorted(source_dir.glob("*.c")):
            target = source.with_suffix(".o")
            run_tool("gcc", "-g", "-O2", "-c", source.name, "-o", target.name, cwd=source_dir)
            objects.append(target)
        archives[project] = lib_dir / f"lib{project}.a"
        run_tool("ar", "rcs", archives[project], *objects)

    manifest = root / "manifest.json"
    packages = [
        {"package": "binbridge-test-alpha", "version": TEST_VERSION,
         "libraries": [{"file": "libalpha.a", "project": "alpha"}]},
        {"package": "binbridge-test-beta", "version": TEST_VERSION,
         "libraries": [{"file": "libbeta.a", "project": "beta"},
                       {"file": "libmissing.a", "project": "beta"}]},
    ]
    manifest.write_text(json.dumps(base_manifest(lib_dir, packages)))
    return TinyLibraries(lib_dir, archives["alpha"], archives["beta"], root / "alpha" / "alpha_math.o", manifest)
