"""--apt_install: each -dbg package installs with its runtime packages, apart from the others.

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
    def __init__(self, installed: dict[str, str], broken: set[str]) -> None:
        self.installed = dict(installed)
        self.broken = broken
        self.calls: list[list[tuple[str, str]]] = []

    def installed_version(self, package: str) -> str | None:
        return self.installed.get(package)

    def install_packages(self, packages: list[tuple[str, str]]) -> None:
        self.calls.append(sorted(packages))
        if any(package in self.broken for package, _ in packages):
            raise CommandError(["apt-get", "install"], 100, "unmet dependencies")
        self.installed.update(packages)


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
    monkeypatch.setattr(apt, "installed_version", fake.installed_version)
    monkeypatch.setattr(apt, "install_packages", fake.install_packages)

    config = BuildConfig(manifest=path, output_dir=tmp_path / "out", apt_install=True)
    versions = planning._package_versions(manifest, config)

    assert fake.calls == [[("good-dbg", "2.0"), ("libgood1", "2.0")],
                          [("bad-dbg", "3.0"), ("libbad1", "3.0")]]
    assert versions == {"libalpha-dev": "0.9", "good-dbg": "2.0", "libgood1": "2.0",
                        "bad-dbg": None, "libbad1": None}
