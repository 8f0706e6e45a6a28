"""External commands (gcc, ar, strip, dpkg, apt-get, pip) and file hashing for the corpus builder."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from binbridge.errors import BinbridgeError, InputError

logger = logging.getLogger(__name__)

# Maximum number of characters from the end of a failed command's output in its error message and the lock file.
ERROR_TAIL_CHARS = 2000


class CommandError(BinbridgeError):
    """An external command that failed. The builder logs it and skips the affected package or library."""

    def __init__(self, command: list[str], returncode: int | None, output: str) -> None:
        self.command = command
        self.returncode = returncode
        self.output = output
        status = "timed out" if returncode is None else f"failed with exit code {returncode}"
        tail = output.strip()[-ERROR_TAIL_CHARS:]
        super().__init__(f"{' '.join(command[:6])}{' ...' if len(command) > 6 else ''} {status}: {tail}")


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    output: str
    """stdout and stderr, interleaved."""


def run_command(command: list[str | os.PathLike[str]], *, cwd: Path | None = None, timeout: float = 3600,
                check: bool = True, env: dict[str, str] | None = None) -> CommandResult:
    """Run a command and return its exit code and output, raising CommandError on failure when check is true."""
    args = [os.fspath(part) for part in command]
    logger.debug("running %s", " ".join(args))
    try:
        completed = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors="replace", timeout=timeout, env=env)
    except subprocess.TimeoutExpired as error:
        raise CommandError(args, None, str(error.output or "")) from error
    except FileNotFoundError as error:
        raise CommandError(args, 127, f"{args[0]} not found on PATH") from error
    if check and completed.returncode != 0:
        raise CommandError(args, completed.returncode, completed.stdout)
    return CommandResult(completed.returncode, completed.stdout)


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def first_line(command: list[str]) -> str | None:
    """Return the first output line of a version command, or None when the tool is missing or fails."""
    if shutil.which(command[0]) is None:
        return None
    result = run_command(command, check=False, timeout=60)
    lines = result.output.strip().splitlines()
    return lines[0] if result.returncode == 0 and lines else None


def require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise InputError(None, f"{', '.join(missing)} not found on PATH",
                         "install the tools, such as with apt-get install build-essential")
