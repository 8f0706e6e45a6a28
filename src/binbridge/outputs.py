"""Output files written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[TextIO]:
    """Open a UTF-8 text handle whose content replaces ``path`` only if the block succeeds.

    The text goes to a temp file beside the target, which gets the umask's
    permissions and is renamed over the target on success or deleted on error.
    A symlink is followed to its target. A FIFO or device cannot be replaced by
    rename, so it is written directly.
    """
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        with target.open("w", newline="", encoding="utf-8", errors="replace") as handle:
            yield handle
        return

    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(temp, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", newline="", encoding="utf-8", errors="replace") as handle:
            yield handle
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
