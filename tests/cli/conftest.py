from __future__ import annotations

import subprocess

import pytest

from cli_helpers import SAMPLE_PROGRAM


@pytest.fixture(scope="session")
def sample_binaries(tmp_path_factory, gcc):
    """A C program compiled during the test: object file, archive, PIE and stripped PIE."""
    root = tmp_path_factory.mktemp("sample")
    source = root / "sample.c"
    source.write_text(SAMPLE_PROGRAM)
    subprocess.run([gcc, "-O1", "-c", str(source), "-o", str(root / "sample.o")], check=True)
    subprocess.run(["ar", "rcs", str(root / "libsample.a"), str(root / "sample.o")], check=True)
    subprocess.run([gcc, "-O1", "-pie", "-fPIE", str(source), "-o", str(root / "sample")], check=True)
    subprocess.run(["strip", "-o", str(root / "sample.stripped"), str(root / "sample")], check=True)
    return root
