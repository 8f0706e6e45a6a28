"""--apt_install: each -dbg package installs with its runtime packages, apart from the others, and
versions that Debian has replaced fall back to the archive's versions.

apt-get itself cannot run in a test, so a fake records what would be installed.
"""

from __future__ import annotations

import json
from pathlib import Path

from binbridge.corpus import BuildConfig, load_manifest
from binbridge.corpus import apt, planning
from binbridge.corpus.tools import CommandError
from corpus_helpers import base_manifest


class FakeApt:
    """An archive where ``broken`` packages never install and ``replaced`` maps a package to the
    version that replaced its manifest version (requests for any other version fail)."""

    def __init__(self, installed: dict[str, str], broken: set[str] = frozenset(),
                 replaced: dict[str, str] | None = None, moves: dict[str, tuple[str, str]] | None = None,
                 error: CommandError | None = None) -> None:
        self.installed = dict(installed)
        self.moves = moves or {}  # installing a package also moves another one: package -> (other, version)
        self.error = error
        self.broken = broken
        self.replaced = replaced or {}
        self.calls: list[list[tuple[str, str | None]]] = []
        self.installs_before_update: list[int] = []

    def update_package_lists(self) -> None:
        self.installs_before_update.append(len(self.calls))

    def patch(self, monkeypatch) -> None:
        monkeypatch.setattr(apt, "installed_version", self.installed_version)
        monkeypatch.setattr(apt, "install_packages", self.install_packages)
        monkeypatch.setattr(apt, "update_package_lists", self.update_package_lists)

    def installed_version(self, package: str) -> str | None:
        return self.installed.get(package)

    def install_packages(self, packages: list[tuple[str, str | None]]) -> None:
        self.calls.append(sorted(packages, key=str))
        if self.error is not None:
            raise self.error
        chosen = {}
        for package, version in packages:
            current = self.replaced.get(package)
            if package in self.broken or (current is not None and version not in (None, current)):
                raise CommandError(["apt-get", "install"], 100, f"E: Version '{version}' for '{package}' was not found")
            if package in self.moves:
                self.installed[self.moves[package][0]] = self.moves[package][1]
            chosen[package] = version or current or "archive"
        self.installed.update(chosen)


def dbg_entry(project: str, runtime_version: str) -> dict:
    return {"package": f"{project}-dbg", "version": runtime_version, "project": project,
            "runtime_packages": [{"package": f"lib{project}1", "version": runtime_version}]}


def test_dbg_groups_install_separately(tmp_path: Path, monkeypatch):
    data = base_manifest(Path("/nonexistent/lib"), [{"package": "libalpha-dev", "version": "1.0",
                                                    "libraries": [{"file": "libalpha.a", "project": "alpha"}]}])
    data["sources"]["dbg"] = [dbg_entry("good", "2.0"), dbg_entry("bad", "3.0")]
    data["splits"] = {"eval": ["good"], "test": []}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    manifest = load_manifest(path)
    # libalpha-dev stays at its other version. libgood1 must move to the -dbg version.
    fake = FakeApt({"libalpha-dev": "0.9", "libgood1": "1.9"}, broken={"bad-dbg"})
    fake.patch(monkeypatch)

    config = BuildConfig(manifest=path, output_dir=tmp_path / "out", apt_install=True)
    versions = planning._package_versions(manifest, config)

    assert fake.calls == [[("good-dbg", "2.0"), ("libgood1", "2.0")],
                          [("bad-dbg", "3.0"), ("libbad1", "3.0")],
                          [("bad-dbg", None), ("libbad1", None)]]
    assert versions == {"libalpha-dev": "0.9", "good-dbg": "2.0", "libgood1": "2.0",
                        "bad-dbg": None, "libbad1": None}


def _manifest_with(tmp_path: Path, libraries: list[str], dbg: list[dict]):
    packages = [{"package": f"lib{name}-dev", "version": "1.0", "libraries": [{"file": f"lib{name}.a", "project": name}]}
                for name in libraries]
    data = base_manifest(Path("/nonexistent/lib"), packages)
    data["sources"]["dbg"] = dbg
    data["splits"] = {"eval": [], "test": []}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    return load_manifest(path), BuildConfig(manifest=path, output_dir=tmp_path / "out", apt_install=True)


def test_replaced_library_version_installs_the_archive_version(tmp_path: Path, monkeypatch):
    manifest, config = _manifest_with(tmp_path, ["alpha", "beta"], [])
    fake = FakeApt({}, replaced={"libalpha-dev": "1.0+deb12u1"})
    fake.patch(monkeypatch)

    versions = planning._package_versions(manifest, config)

    # One library's missing version must not keep the others from installing at theirs.
    assert versions == {"libalpha-dev": "1.0+deb12u1", "libbeta-dev": "1.0"}
    assert fake.calls[1:] == [[("libalpha-dev", "1.0")], [("libalpha-dev", None)], [("libbeta-dev", "1.0")]]


def test_replaced_dbg_version_moves_the_whole_group(tmp_path: Path, monkeypatch):
    manifest, config = _manifest_with(tmp_path, [], [dbg_entry("good", "2.0")])
    fake = FakeApt({"libgood1": "2.0"}, replaced={"good-dbg": "2.1", "libgood1": "2.1"})
    fake.patch(monkeypatch)

    versions = planning._package_versions(manifest, config)

    # The debug files match only the runtime build they came from, so both move together.
    assert versions == {"good-dbg": "2.1", "libgood1": "2.1"}
    assert fake.calls == [[("good-dbg", "2.0")], [("good-dbg", None), ("libgood1", None)]]


def test_versions_reread_after_install(tmp_path: Path, monkeypatch):
    # libc6-dbg moves libc6, and apt-get moves libc6-dev with it.
    manifest, config = _manifest_with(tmp_path, ["alpha"], [dbg_entry("good", "2.0")])
    fake = FakeApt({"libalpha-dev": "1.0", "libgood1": "1.9"}, moves={"good-dbg": ("libalpha-dev", "1.1")})
    fake.patch(monkeypatch)

    versions = planning._package_versions(manifest, config)

    assert versions == {"libalpha-dev": "1.1", "good-dbg": "2.0", "libgood1": "2.0"}


def test_timeout_does_not_retry_package_by_package(tmp_path: Path, monkeypatch):
    manifest, config = _manifest_with(tmp_path, ["alpha", "beta"], [])
    fake = FakeApt({}, error=CommandError(["apt-get", "install"], None, "Waiting for cache lock"))
    fake.patch(monkeypatch)

    versions = planning._package_versions(manifest, config)

    assert len(fake.calls) == 1
    assert versions == {"libalpha-dev": None, "libbeta-dev": None}


def test_lists_updated_once_before_installing(tmp_path: Path, monkeypatch):
    manifest, config = _manifest_with(tmp_path, ["alpha"], [dbg_entry("good", "2.0")])
    fake = FakeApt({})
    fake.patch(monkeypatch)

    planning._package_versions(manifest, config)

    assert fake.installs_before_update == [0]
    assert len(fake.calls) == 2


def test_lists_not_updated_when_installed(tmp_path: Path, monkeypatch):
    manifest, config = _manifest_with(tmp_path, ["alpha"], [])
    fake = FakeApt({"libalpha-dev": "1.0"})
    fake.patch(monkeypatch)

    planning._package_versions(manifest, config)

    assert fake.installs_before_update == []
    assert fake.calls == []
