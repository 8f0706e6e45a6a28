"""``binbridge corpus build``: build the training corpus that a manifest describes.

The build plans units of work (see units.py), runs them, deduplicates and
splits the rows by project, and writes train.csv, eval.csv, test.csv,
split_summary.json, manifest.lock.json and build.log. Everything is written
into a staging folder inside OUTPUT_DIR first and renamed into place only
when the build succeeds, so a failed build leaves earlier outputs intact and
only adds build.failed.log.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from tqdm.auto import tqdm

from binbridge import __version__
from binbridge.corpus import apt
from binbridge.corpus.config import BuildConfig
from binbridge.corpus.lock import ManifestLock, failed_package_lock, package_locks, toolchain_lock, write_json_atomically
from binbridge.corpus.manifest import Manifest, load_manifest
from binbridge.corpus.output import SPLIT_FILES, split_corpus, write_split_files
from binbridge.corpus.planning import plan_units
from binbridge.corpus.rows import UnitResult
from binbridge.corpus.tools import require_tools
from binbridge.corpus.units import Unit, run_unit

logger = logging.getLogger(__name__)

OUTPUT_FILES = ("train.csv", "eval.csv", "test.csv", "split_summary.json", "signatures.json", "manifest.lock.json",
                "build.log")


@dataclass
class CorpusBuildResult:
    output_dir: Path
    functions: dict[str, int]
    """Rows per split after deduplication."""
    functions_by_source: dict[str, int]
    """Rows per row kind over all splits, after deduplication."""
    duplicates_removed: int
    failed_packages: list[str]
    """``source:package`` of every package with status failed or partial."""
    seconds: float


def build_corpus(config: BuildConfig) -> CorpusBuildResult:
    """Build the corpus of config.manifest into config.output_dir."""
    started = time.monotonic()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest = load_manifest(config.manifest)
    require_tools("gcc", "ar", "strip")
    config.output_dir.mkdir(parents=True, exist_ok=True)
    work_dir = config.resolved_work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=config.output_dir))
    handler = _attach_log_file(staging / "build.log")
    try:
        logger.info("corpus build of %s (sha256 %s) into %s; sources %s, %d jobs", manifest.path, manifest.sha256,
                    config.output_dir, ",".join(config.sources), config.jobs)
        result = _build(config, manifest, work_dir, staging, started, started_at)
        _detach_log_file(handler)
        # mkstemp creates files readable by the owner only; outputs get the permissions of a plain open().
        umask = os.umask(0)
        os.umask(umask)
        for name in OUTPUT_FILES:
            os.chmod(staging / name, 0o666 & ~umask)
            os.replace(staging / name, config.output_dir / name)
        shutil.rmtree(staging)
        return result
    except BaseException:
        logger.exception("corpus build failed")
        _detach_log_file(handler)
        if (staging / "build.log").is_file():
            os.replace(staging / "build.log", config.output_dir / "build.failed.log")
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _build(config: BuildConfig, manifest: Manifest, work_dir: Path, staging: Path, started: float,
           started_at: str) -> CorpusBuildResult:
    compiler_version = apt.installed_version(manifest.toolchain.compiler_package)
    if compiler_version != manifest.toolchain.compiler_version:
        logger.warning("%s is at version %s, but the manifest names %s; the lock records the installed one",
                       manifest.toolchain.compiler_package, compiler_version, manifest.toolchain.compiler_version)
    plan = plan_units(manifest, config, work_dir)
    results = _run_units(plan.units, config.jobs, config.show_progress)
    corpus = split_corpus(results, manifest.splits)
    outputs = write_split_files(corpus, staging)

    packages = package_locks(results) + [
        failed_package_lock(item.source, item.package, item.version, item.project, item.failure)
        for item in plan.failures
    ]
    lock = ManifestLock(
        manifest=str(manifest.path),
        manifest_sha256=manifest.sha256,
        binbridge_version=__version__,
        sources=list(config.sources),
        opt_levels=list(manifest.toolchain.opt_levels),
        cflags=list(manifest.toolchain.cflags),
        toolchain=toolchain_lock(manifest.toolchain.compiler_package, manifest.toolchain.compiler_version,
                                 compiler_version),
        packages=packages,
        outputs=outputs,
        started_at=started_at,
        seconds=round(time.monotonic() - started, 1),
    )
    write_json_atomically(staging / "manifest.lock.json", asdict(lock))

    by_source: dict[str, int] = {}
    for counts in corpus.functions_by_source.values():
        for kind, count in counts.items():
            by_source[kind] = by_source.get(kind, 0) + count
    failed = [f"{item.source}:{item.package}" for item in packages if item.status != "ok"]
    for item in packages:
        if item.status != "ok":
            logger.warning("%s %s %s: %s", item.status, item.source, item.package, " | ".join(item.failures)[:2000])
    functions = {name: len(corpus.splits.get(name, [])) for name in SPLIT_FILES}
    logger.info("rows per split %s, per source %s, %d duplicates removed, %d packages failed or partial, %.0f s",
                functions, by_source, corpus.summary.duplicates_removed, len(failed), lock.seconds)
    return CorpusBuildResult(config.output_dir, functions, by_source, corpus.summary.duplicates_removed, failed,
                             lock.seconds)


def _run_units(units: list[Unit], jobs: int, show_progress: bool) -> list[UnitResult]:
    results = []
    bar = tqdm(total=len(units), desc="corpus units", unit="unit", disable=not show_progress)
    try:
        if jobs == 1:
            for unit in units:
                results.append(run_unit(unit))
                bar.set_postfix_str(results[-1].label, refresh=False)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for result in pool.map(run_unit, units):
                    results.append(result)
                    bar.set_postfix_str(result.label, refresh=False)
                    bar.update()
    finally:
        bar.close()
    return results


class _ForwardHandler(logging.Handler):
    """Pass records at or above its level to the root logger's handlers, as propagation would."""

    def emit(self, record: logging.LogRecord) -> None:
        for handler in logging.getLogger().handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


@dataclass
class _LogFile:
    handler: logging.Handler
    forward: logging.Handler
    previous_level: int
    previous_propagate: bool


def _attach_log_file(path: Path) -> _LogFile:
    """Write binbridge's records of level INFO and above to path for the length of the build.

    The console keeps the level that it had before: records below it go only
    to the file.
    """
    package_logger = logging.getLogger("binbridge")
    console_level = package_logger.getEffectiveLevel()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    forward = _ForwardHandler(level=console_level)
    log_file = _LogFile(handler, forward, package_logger.level, package_logger.propagate)
    package_logger.addHandler(handler)
    package_logger.addHandler(forward)
    package_logger.propagate = False
    package_logger.setLevel(min(console_level, logging.INFO))
    return log_file


def _detach_log_file(log_file: _LogFile) -> None:
    package_logger = logging.getLogger("binbridge")
    package_logger.removeHandler(log_file.handler)
    package_logger.removeHandler(log_file.forward)
    package_logger.setLevel(log_file.previous_level)
    package_logger.propagate = log_file.previous_propagate
    log_file.handler.close()
