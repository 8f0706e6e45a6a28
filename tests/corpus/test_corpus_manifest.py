"""Manifest and build-config validation: each bad input raises one line that names the field."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from binbridge.corpus import BuildConfig, load_manifest
from binbridge.errors import ConfigError, InputError
from corpus_helpers import base_manifest

REPO_MANIFEST = Path(__file__).resolve().parents[2] / "corpus" / "manifest.json"


def valid_manifest() -> dict:
    packages = [{"package": "binbridge-test-alpha", "version": "1.0",
                 "libraries": [{"file": "libalpha.a", "project": "alpha"}]},
                {"package": "binbridge-test-beta", "version": "1.0",
                 "libraries": [{"file": "libbeta.a", "project": "beta"}]}]
    return base_manifest(Path("/nonexistent/lib"), packages)


def load_error(tmp_path: Path, data: dict) -> InputError:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as caught:
        load_manifest(path)
    return caught.value


def test_valid_manifest_loads(tmp_path: Path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(valid_manifest()))
    manifest = load_manifest(path)
    assert manifest.projects() == {"alpha", "beta"}
    assert manifest.splits == {"eval": ("beta",), "test": ()}


def test_missing_field_named(tmp_path: Path):
    data = valid_manifest()
    del data["sources"]["libs"]["packages"][1]["libraries"][0]["project"]
    error = load_error(tmp_path, data)
    message = str(error)
    assert "sources.libs.packages[1].libraries[0].project: missing required field" in message
    assert "\n" not in message


def test_unknown_source_named(tmp_path: Path):
    data = valid_manifest()
    data["sources"]["rpms"] = []
    message = str(load_error(tmp_path, data))
    assert "sources.rpms: unknown source kind" in message
    assert "dbg, debsrc, libs, programs, sdists" in message
    assert "\n" not in message


@pytest.mark.parametrize("change, field", [
    (lambda d: d["toolchain"].update(opt_levels=["O2", "O9"]), "toolchain.opt_levels"),
    (lambda d: d["toolchain"].update(cflags=["-O2"]), "toolchain.cflags"),
    (lambda d: d["splits"].update(eval=["gamma"]), "splits.eval"),
    (lambda d: d["splits"].update(test=["beta"]), "splits.test"),
    (lambda d: d["sources"]["libs"]["packages"][0]["libraries"][0].update(project="binutils"),
     "sources.libs.packages[0].libraries[0].project"),
    (lambda d: d["sources"]["libs"]["packages"][0].update(package="binutils-dev"), "sources.libs.packages[0].package"),
    (lambda d: d["sources"]["libs"]["packages"][0].update(version=""), "sources.libs.packages[0].version"),
    (lambda d: d["sources"]["libs"]["packages"][0]["libraries"][0].update(relink="yes"),
     "sources.libs.packages[0].libraries[0].relink"),
    (lambda d: d["sources"]["libs"]["packages"][0]["libraries"][0].update(file="../../../etc/libx.a"),
     "sources.libs.packages[0].libraries[0].file"),
    (lambda d: d["sources"].update(sdists=[{"name": "lz4", "version": "4.3.3", "project": "lz4",
                                            "sources": ["../outside/*.c"]}]), "sources.sdists[0].sources"),
    (lambda d: d["sources"].update(dbg=[{"package": "libc6-dbg", "version": "2.36", "project": "glibc",
                                         "runtime_packages": []}]), "sources.dbg[0].runtime_packages"),
    (lambda d: d.update(format_version=2), "format_version"),
])
def test_invalid_field_named(tmp_path: Path, change, field):
    data = copy.deepcopy(valid_manifest())
    change(data)
    message = str(load_error(tmp_path, data))
    assert field in message
    assert "\n" not in message


def test_similar_package_names_allowed(tmp_path: Path):
    data = valid_manifest()
    data["sources"]["libs"]["packages"][0]["package"] = "libgdbm-dev"
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    assert load_manifest(path).libraries[0].package == "libgdbm-dev"


def test_invalid_json_rejected(tmp_path: Path):
    path = tmp_path / "manifest.json"
    path.write_text("{\"format_version\": 1,")
    with pytest.raises(InputError, match="invalid JSON"):
        load_manifest(path)


def test_cli_reports_manifest_error(tmp_path: Path):
    data = valid_manifest()
    del data["toolchain"]["compiler"]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    completed = subprocess.run([sys.executable, "-m", "binbridge.cli", "corpus", "build", "--manifest", str(path),
                                "-o", str(tmp_path / "out"), "--no_progress"], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "toolchain.compiler: missing required field" in lines[0]
    assert not (tmp_path / "out").exists()


def test_cli_rejects_unknown_source_kind(tmp_path: Path):
    completed = subprocess.run([sys.executable, "-m", "binbridge.cli", "corpus", "build", "-o", str(tmp_path),
                                "--sources", "libs,rpms"], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert "rpms" in completed.stderr


@pytest.mark.parametrize("fields, field", [
    ({"sources": ("libs", "rpms")}, "sources"),
    ({"sources": ()}, "sources"),
    ({"jobs": 0}, "jobs"),
])
def test_build_config_names_field(tmp_path: Path, fields: dict, field: str):
    with pytest.raises(ConfigError) as caught:
        BuildConfig(manifest=tmp_path / "manifest.json", output_dir=tmp_path / "out", **fields)
    assert caught.value.field == field


def test_build_config_paths_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    config = BuildConfig(manifest="manifest.json", output_dir="out", work_dir="work")
    assert config.manifest == tmp_path / "manifest.json"
    assert config.output_dir == tmp_path / "out"
    assert config.resolved_work_dir == tmp_path / "work"


def test_repository_manifest_valid():
    manifest = load_manifest(REPO_MANIFEST)
    held_out = set(manifest.splits["eval"]) | set(manifest.splits["test"])
    assert not set(manifest.splits["eval"]) & set(manifest.splits["test"])
    assert held_out <= manifest.projects()
    assert "binutils" not in manifest.projects()
    assert manifest.toolchain.opt_levels == ("O0", "O1", "O2", "O3", "Os")


def test_build_where_every_source_fails_exits_2(tmp_path: Path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(valid_manifest()))  # its libraries live in /nonexistent/lib
    result = subprocess.run([sys.executable, "-m", "binbridge.cli", "corpus", "build", "--manifest", str(manifest),
                             "-o", str(tmp_path / "out"), "--sources", "libs"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "has no function" in last
    assert "build.log" in last
    assert "Traceback" not in result.stderr
