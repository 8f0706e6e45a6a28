"""Turn a manifest into units of work: check and install packages, fetch source trees, match debug files.

Everything here runs in the main process and in manifest order, because
apt-get and pip must not run concurrently; the units then run in parallel.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from binbridge.corpus import apt
from binbridge.corpus.config import BuildConfig
from binbridge.corpus.dbg import debug_pairs
from binbridge.corpus.fetch import SourceTree, fetch_source
from binbridge.corpus.manifest import CompiledSource, Manifest, ProgramSource
from binbridge.corpus.relink import trivial_main
from binbridge.corpus.tools import CommandError
from binbridge.corpus.units import CompiledUnit, DebugUnit, LibraryUnit, ProgramUnit, Unit
from binbridge.errors import InputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanFailure:
    """A package that failed before any unit could run, such as a failed download."""

    source: str
    package: str
    version: str
    project: str
    failure: str


@dataclass
class Plan:
    units: list[Unit] = field(default_factory=list)
    failures: list[PlanFailure] = field(default_factory=list)


def plan_units(manifest: Manifest, config: BuildConfig, work_dir: Path) -> Plan:
    """Return the units of the source kinds in config.sources, in manifest order."""
    plan = Plan()
    versions = _package_versions(manifest, config)
    main_object = trivial_main(work_dir)
    if "libs" in config.sources:
        _plan_libraries(manifest, versions, work_dir, main_object, plan)
    for kind in ("sdists", "debsrc"):
        if kind in config.sources:
            _plan_compiled(manifest, kind, work_dir, main_object, plan)
    if "programs" in config.sources:
        _plan_programs(manifest, config, work_dir, plan)
    if "dbg" in config.sources:
        _plan_debug(manifest, versions, plan)
    logger.info("planned %d units; %d packages failed before building", len(plan.units), len(plan.failures))
    return plan


def _package_versions(manifest: Manifest, config: BuildConfig) -> dict[str, str | None]:
    """Return the installed version of every Debian package that the chosen sources use.

    With config.apt_install, the package lists are updated once (when any
    package is missing), and packages that are not installed are installed at
    their manifest versions first, one group at a time: the libraries together,
    then each -dbg package with its runtime packages, which also move to the
    manifest version when another one is installed (the debug files match only
    that build). Debian replaces a version when it publishes a fix, so a manifest
    version can vanish from the archive: a library that cannot be installed at
    its version is then installed at the archive's version, and a -dbg group at
    the archive's versions of all its packages (which come from one build, so
    the debug files still match). What still fails is logged and skipped.
    Other packages at other versions are kept and logged, and the lock records
    the version that was used.
    """
    # Each group maps package -> version, with a flag: also move installed packages to that version.
    groups: list[tuple[dict[str, str], bool]] = []
    if "libs" in config.sources:
        groups.append(({package.package: package.version for package in manifest.libraries}, False))
    if "dbg" in config.sources:
        for package in manifest.dbg:
            group = {package.package: package.version}
            group.update((runtime.package, runtime.version) for runtime in package.runtime_packages)
            groups.append((group, True))
    requested = {package: version for group, _ in groups for package, version in group.items()}
    versions = {package: apt.installed_version(package) for package in requested}
    if config.apt_install:
        lists_updated = False
        for group, pinned in groups:
            to_install = [(package, version) for package, version in group.items()
                          if versions[package] is None or (pinned and versions[package] != version)]
            if not to_install:
                continue
            if not lists_updated:
                apt.update_package_lists()
                lists_updated = True
            _install_group(to_install, one_build=list(group.items()) if pinned else None)
            # apt-get may move packages of other groups too (libc6-dev follows libc6).
            versions.update({package: apt.installed_version(package) for package in requested})
    for package, version in versions.items():
        if version is None:
            logger.warning("Debian package %s is not installed (manifest version %s)%s", package, requested[package],
                           "" if config.apt_install else "; pass --apt_install to install it")
        elif version != requested[package]:
            logger.warning("Debian package %s is at version %s, but the manifest names %s", package, version,
                           requested[package])
    return versions


def _install_group(packages: list[tuple[str, str]], *, one_build: list[tuple[str, str]] | None) -> None:
    """Install packages at their manifest versions, falling back to the archive's versions (see above).

    ``one_build`` is the whole -dbg group, which falls back together; None for libraries, which
    fall back one package at a time.
    """
    try:
        apt.install_packages(packages)
        return
    except CommandError as error:
        if not _version_problem(error):  # a timeout, the dpkg lock, a network error: retrying will not help
            logger.error("apt-get install failed, so these packages stay as they were: %s", error)
            return
        logger.warning("apt-get could not install the manifest versions, trying the archive's versions: %s",
                       _first_problem(error.output))
    attempts = [one_build] if one_build else [[package] for package in packages]
    for attempt in attempts:
        if one_build is None:
            try:
                apt.install_packages(attempt)
                continue
            except CommandError:
                pass
        try:
            apt.install_packages([(package, None) for package, _ in attempt])
            logger.warning("installed the archive's version of %s instead of the manifest's",
                           ", ".join(package for package, _ in attempt))
        except CommandError as error:
            logger.error("apt-get install failed, so these packages stay as they were: %s", error)


def _version_problem(error: CommandError) -> bool:
    """Whether apt-get failed because a requested version is gone or conflicts (exit code 100)."""
    return error.returncode == 100 and any(
        marker in error.output for marker in ("was not found", "unmet dependencies", "Depends:"))


def _first_problem(output: str) -> str:
    """Return the first line of apt-get output that names a problem (``E:`` or ``Depends:``)."""
    for line in output.splitlines():
        if line.startswith("E:") or "Depends:" in line:
            return line.strip()
    return output.strip().splitlines()[-1] if output.strip() else "no output"


def _plan_libraries(manifest: Manifest, versions: dict[str, str | None], work_dir: Path, main_object: Path,
                    plan: Plan) -> None:
    for package in manifest.libraries:
        for library in package.libraries:
            path = Path(library.file)
            if not path.is_absolute():
                path = manifest.lib_dir / path
            plan.units.append(LibraryUnit(package.package, package.version, versions.get(package.package), library,
                                          path, work_dir / "relink" / library.project, main_object))


def _plan_compiled(manifest: Manifest, kind: str, work_dir: Path, main_object: Path, plan: Plan) -> None:
    entries = manifest.sdists if kind == "sdists" else manifest.debsrc
    for source in entries:
        tree = _fetch(source, work_dir, plan)
        if tree is None:
            continue
        for level in manifest.toolchain.opt_levels:
            plan.units.append(CompiledUnit(source, tree.root, tree.inputs, level, manifest.toolchain.cflags,
                                           tree.work_dir / "build" / level, main_object))


def _plan_programs(manifest: Manifest, config: BuildConfig, work_dir: Path, plan: Plan) -> None:
    # Units run config.jobs at a time, so each make gets its share of the cores.
    make_jobs = max(1, (os.cpu_count() or 1) // config.jobs)
    for source in manifest.programs:
        tree = _fetch(source, work_dir, plan)
        if tree is not None:
            plan.units.append(ProgramUnit(source, tree.root, tree.inputs, manifest.program_flags,
                                          tree.work_dir / "build", make_jobs))


def _fetch(source: CompiledSource | ProgramSource, work_dir: Path, plan: Plan) -> SourceTree | None:
    """Return the source tree of an entry, or None after recording why it could not be fetched."""
    try:
        return fetch_source(source, work_dir)
    except (CommandError, InputError, OSError) as error:
        message = " ".join(str(error).split())
        logger.warning("%s %s %s: fetching failed, so it is skipped: %s", source.kind, source.name, source.version,
                       message)
        plan.failures.append(PlanFailure(source.kind, source.name, source.version, source.project, message))
        return None


def _plan_debug(manifest: Manifest, versions: dict[str, str | None], plan: Plan) -> None:
    for package in manifest.dbg:
        version = versions.get(package.package)
        if version is None:
            plan.failures.append(PlanFailure("dbg", package.package, package.version, package.project,
                                             "not installed; pass --apt_install or install it with apt-get"))
            continue
        files: list[Path] = []
        for runtime in package.runtime_packages:
            if versions.get(runtime.package) is None:
                logger.warning("dbg %s: runtime package %s is not installed", package.package, runtime.package)
                continue
            files += apt.package_files(runtime.package)
        files = [path for path in files
                 if not any(fnmatch.fnmatchcase(str(path), pattern) for pattern in package.exclude)]
        pairs = debug_pairs(files)
        if not pairs:
            plan.failures.append(PlanFailure("dbg", package.package, package.version, package.project,
                                             "no installed file of the runtime packages matches a debug file"))
            continue
        logger.info("dbg %s: %d stripped files with debug files", package.package, len(pairs))
        for pair in pairs:
            plan.units.append(DebugUnit(package.package, package.version, version, package.project, pair))
