"""Download and unpack the source trees of compiled sources: PyPI sdists and Debian source packages."""

from __future__ import annotations

import logging
import shutil
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from binbridge.corpus import apt
from binbridge.corpus.manifest import CompiledSource, ProgramSource
from binbridge.corpus.rows import InputFile
from binbridge.corpus.tools import CommandError, run_command, sha256_file

logger = logging.getLogger(__name__)

PIP_TIMEOUT_S = 900
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")


@dataclass(frozen=True)
class SourceTree:
    """An unpacked source tree and the downloaded files it came from."""

    root: Path
    inputs: tuple[InputFile, ...]
    work_dir: Path
    """Folder of this entry's downloads, tree and builds."""


def fetch_source(source: CompiledSource | ProgramSource, work_dir: Path) -> SourceTree:
    """Return the unpacked tree of a sdists, debsrc or programs entry, downloading it unless an earlier build did."""
    directory = work_dir / source.kind / f"{source.name}-{source.version.replace(':', '_')}"
    if source.kind == "sdists":
        return _fetch_sdist(source, directory)
    tree = apt.download_source(source.name, source.version, directory)
    downloads = sorted(path for path in directory.iterdir() if path.is_file())
    return SourceTree(tree, tuple(InputFile(str(path), sha256_file(path)) for path in downloads), directory)


def _fetch_sdist(source: CompiledSource, directory: Path) -> SourceTree:
    download_dir = directory / "download"
    archive = _find_archive(download_dir)
    if archive is None:
        download_dir.mkdir(parents=True, exist_ok=True)
        run_command([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                     "--disable-pip-version-check", "-d", download_dir,
                     f"{source.name}=={source.version}"], timeout=PIP_TIMEOUT_S)
        archive = _find_archive(download_dir)
        if archive is None:
            raise CommandError(["pip", "download", source.name], 1, f"no sdist archive in {download_dir}")
    digest = sha256_file(archive)
    if source.sha256 is not None and digest != source.sha256:
        raise CommandError(["sha256sum", str(archive)], 1,
                           f"sha256 {digest} differs from the manifest's {source.sha256}; "
                           "delete the download to fetch it again, or update the manifest")
    tree = directory / "tree"
    if not tree.is_dir():
        partial = directory / "tree.partial"
        if partial.exists():
            shutil.rmtree(partial)
        _unpack(archive, partial)
        partial.rename(tree)
    entries = [path for path in tree.iterdir()]
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tree
    return SourceTree(root, (InputFile(str(archive), digest),), directory)


def _find_archive(directory: Path) -> Path | None:
    if not directory.is_dir():
        return None
    archives = sorted(path for path in directory.iterdir() if path.name.endswith(_ARCHIVE_SUFFIXES))
    return archives[0] if archives else None


def _unpack(archive: Path, target: Path) -> None:
    """Unpack a tar or zip archive, rejecting members that would land outside target."""
    target.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as bundle:
            for name in bundle.namelist():
                if not (target / name).resolve().is_relative_to(target.resolve()):
                    raise CommandError(["unzip", str(archive)], 1, f"member {name!r} points outside the tree")
            bundle.extractall(target)
        return
    with tarfile.open(archive) as bundle:
        bundle.extractall(target, filter="data")
