"""Helpers for the binary-analysis tests: fixture paths, tool runners, a timeout and the sample build layout."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binary"
SAMPLE_SOURCE = FIXTURES / "sample.c"
GOLDEN = FIXTURES / "golden"
SAMPLE_FUNCTIONS = ("scale_value", "factorial", "greet_user", "classify", "sum_until_negative", "main")

Result = TypeVar("Result")


def require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} on PATH")


def run_tool(*command: str | Path, cwd: Path | None = None) -> str:
    completed = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=True)
    return completed.stdout


def with_timeout(seconds: int, function: Callable[[], Result]) -> Result:
    """Run function, failing the test if it takes longer than seconds (SIGALRM, main thread only)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"timed out after {seconds} s; the parser may loop forever")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        return function()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class SampleBuild:
    """Paths of the sample program built in several ways."""

    directory: Path
    object: Path
    pie: Path
    stripped_pie: Path
    nopie_object: Path
    nopie: Path
    shared: Path
