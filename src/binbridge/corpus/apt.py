"""Debian package queries and downloads through dpkg-query, dpkg, apt-get and dpkg-source."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from binbridge.corpus.tools import CommandError, run_command

logger = logging.getLogger(__name__)

# apt-get may wait minutes for the dpkg lock or a slow mirror.
APT_TIMEOUT_S = 1800


def installed_version(package: str) -> str | None:
    """Return the installed version of a package, or None when it is not installed (or dpkg is missing)."""
    if shutil.which("dpkg-query") is None:
        return None
    result = run_command(["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Version}", package], check=False)
    if result.returncode != 0:
        return None
    status, _, version = result.output.strip().partition("|")
    return version.strip() if status.startswith("ii") and version.strip() else None


def package_files(package: str) -> list[Path]:
    """Return the paths that an installed package owns, as listed by dpkg -L."""
    result = run_command(["dpkg", "-L", package])
    return [Path(line) for line in result.output.splitlines() if line.startswith("/")]


def update_package_lists() -> None:
    """Run apt-get update, so that installs see the archive's current versions.

    The package lists of a fresh machine image can be weeks old. Debian may
    have replaced a version since then, and apt-get would then try to
    install a version that the archive no longer has. A failed update is
    logged, and the installs go on with the lists there are.
    """
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        run_command(["apt-get", "update"], env=env, timeout=APT_TIMEOUT_S)
    except CommandError as error:
        logger.warning("apt-get update failed, so installs use the package lists already on this machine: %s",
                       error)


def install_packages(packages: list[tuple[str, str | None]]) -> None:
    """Install (package, version) pairs with apt-get, raising CommandError when apt-get fails.

    A version of None installs the archive's current version of that package.
    """
    if not packages:
        return
    specs = [package if version is None else f"{package}={version}" for package, version in packages]
    logger.info("installing %d Debian packages: %s", len(specs), " ".join(specs))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run_command(["apt-get", "install", "-y", "--no-install-recommends", *specs], env=env, timeout=APT_TIMEOUT_S)


def download_source(package: str, version: str, directory: Path) -> Path:
    """Download and unpack a Debian source package, and return the unpacked tree.

    An existing tree from an earlier build is reused. apt-get needs deb-src
    lines for the suite that has this version; versions only in the security
    suite fail unless its deb-src line is present too.
    """
    tree = directory / "tree"
    if tree.is_dir():
        return tree
    directory.mkdir(parents=True, exist_ok=True)
    try:
        run_command(["apt-get", "source", "--download-only", f"{package}={version}"], cwd=directory,
                    timeout=APT_TIMEOUT_S)
    except CommandError as error:
        if "deb-src" in error.output or "Unable to find a source package" in error.output:
            error.output += ("\nadd deb-src lines (Types: deb-src) for bookworm and bookworm-updates to "
                             "/etc/apt/sources.list.d and run apt-get update")
        raise
    dsc = directory / dsc_name(package, version)
    if not dsc.is_file():
        raise CommandError(["apt-get", "source", f"{package}={version}"], 1, f"{dsc.name} missing after download")
    partial = directory / "tree.partial"
    if partial.exists():
        shutil.rmtree(partial)
    run_command(["dpkg-source", "--no-check", "-x", dsc.name, partial.name], cwd=directory, timeout=APT_TIMEOUT_S)
    partial.rename(tree)
    return tree


def dsc_name(package: str, version: str) -> str:
    """Return the .dsc file name of a source version, which leaves out the epoch (``1:``)."""
    return f"{package}_{version.split(':', 1)[-1]}.dsc"
