"""Settings of one corpus build, checked before any work starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from binbridge.corpus.manifest import SOURCE_KINDS
from binbridge.errors import ConfigError

MAX_JOBS = 256


@dataclass(frozen=True)
class BuildConfig:
    """Inputs and options of ``build_corpus``.

    work_dir contains downloads, build trees and relinked binaries. It defaults
    to OUTPUT_DIR/work, and a later build may reuse it.
    """

    manifest: Path
    output_dir: Path
    sources: tuple[str, ...] = SOURCE_KINDS
    jobs: int = 1
    work_dir: Path | None = None
    apt_install: bool = False
    """Install missing Debian packages at their manifest versions with apt-get (needs root and network)."""
    show_progress: bool = True

    def __post_init__(self) -> None:
        # Absolute paths, because compilers run inside source trees and write paths into DWARF and the lock.
        object.__setattr__(self, "manifest", Path(self.manifest).absolute())
        object.__setattr__(self, "output_dir", Path(self.output_dir).absolute())
        if self.work_dir is not None:
            object.__setattr__(self, "work_dir", Path(self.work_dir).absolute())
        if isinstance(self.sources, str) or not self.sources:
            raise ConfigError("corpus", "sources", self.sources, f"must be a non-empty list from {SOURCE_KINDS}")
        for kind in self.sources:
            if kind not in SOURCE_KINDS:
                raise ConfigError("corpus", "sources", kind, f"unknown source kind; use one of {', '.join(SOURCE_KINDS)}")
        if len(set(self.sources)) != len(self.sources):
            raise ConfigError("corpus", "sources", self.sources, "must not name a source kind twice")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or not 1 <= self.jobs <= MAX_JOBS:
            raise ConfigError("corpus", "jobs", self.jobs, f"must be an integer from 1 to {MAX_JOBS}")
        if self.output_dir.exists() and not self.output_dir.is_dir():
            raise ConfigError("corpus", "output_dir", str(self.output_dir), "must be a folder, not a file")

    @property
    def resolved_work_dir(self) -> Path:
        return self.work_dir if self.work_dir is not None else self.output_dir / "work"
