"""End-to-end corpus build on two tiny static libraries: naming, DWARF source, clone suffixes, split and lock."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from binbridge.corpus import BuildConfig, CorpusBuildResult, build_corpus
from binbridge.data.schema import FunctionRecord, read_dataset
from binbridge.data.signatures import SIGNATURE_FILE, SignatureIndex
from corpus_helpers import TEST_VERSION, TinyLibraries, run_tool, subprogram_attributes

CRT_NAMES = {"_start", "_init", "_fini", "frame_dummy", "register_tm_clones", "deregister_tm_clones",
             "__do_global_dtors_aux", "main"}


@dataclass(frozen=True)
class BuiltCorpus:
    result: CorpusBuildResult
    output_dir: Path
    rows: dict[str, list[FunctionRecord]]

    @property
    def all_rows(self) -> list[FunctionRecord]:
        return [row for rows in self.rows.values() for row in rows]

    def relinked(self, name: str, clone_suffix: str = "") -> list[FunctionRecord]:
        return [row for row in self.all_rows if row.binary.endswith(".pie.stripped")
                and row.function_name == name and row.clone_suffix == clone_suffix]


@pytest.fixture(scope="module")
def built(tiny_libraries: TinyLibraries, tmp_path_factory: pytest.TempPathFactory) -> BuiltCorpus:
    output_dir = tmp_path_factory.mktemp("corpus")
    config = BuildConfig(manifest=tiny_libraries.manifest, output_dir=output_dir, sources=("libs",),
                         show_progress=False)
    result = build_corpus(config)
    rows = {name: read_dataset(output_dir / f"{name}.csv") for name in ("train", "eval", "test")}
    return BuiltCorpus(result, output_dir, rows)


def symbols_by_address(binary: Path) -> dict[int, set[str]]:
    """Map addresses to the function symbols that nm lists there."""
    table: dict[int, set[str]] = {}
    for line in run_tool("nm", "--defined-only", binary).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            table.setdefault(int(parts[0], 16), set()).add(parts[2])
    return table


def test_fixture_has_ranges_subprogram(tiny_libraries: TinyLibraries):
    attributes = subprogram_attributes(tiny_libraries.alpha_math_object, "sum_checked")
    assert attributes, "readelf lists no DW_TAG_subprogram for sum_checked"
    assert "DW_AT_ranges" in attributes
    assert "DW_AT_low_pc" not in attributes


def test_relinked_names_match_unstripped_twin(built: BuiltCorpus):
    relinked = [row for row in built.all_rows if row.binary.endswith(".pie.stripped")]
    assert relinked
    for row in relinked:
        unstripped = Path(row.binary[:-len(".stripped")])
        names = symbols_by_address(unstripped).get(int(row.address, 16), set())
        assert row.function_name + row.clone_suffix in names, (row.binary, row.address, names)


def test_relinked_rows_cover_both_libraries(built: BuiltCorpus):
    names = {row.function_name for row in built.all_rows if row.binary.endswith(".pie.stripped")}
    for expected in ("sum_checked", "scale_twice", "scale_and_report", "report_value", "count_words",
                     "reverse_string"):
        assert expected in names


def test_stripped_copy_has_no_symtab(built: BuiltCorpus):
    binary = Path(built.relinked("sum_checked")[0].binary)
    assert ".symtab" not in run_tool("readelf", "-SW", binary)
    assert ".symtab" in run_tool("readelf", "-SW", binary.with_suffix(""))


def test_dwarf_source_of_ranges_function(built: BuiltCorpus):
    for suffix in ("", ".cold"):
        rows = built.relinked("sum_checked", suffix)
        assert len(rows) == 1, suffix
        source = rows[0].source_code
        assert source.startswith("long sum_checked(const long *values, int count)")
        assert "stopping at index %d of %d {" in source
        assert source.rstrip().endswith("return total;\n}")


def test_source_stops_at_matching_brace(built: BuiltCorpus):
    source = built.relinked("scale_twice")[0].source_code
    assert source.startswith("long scale_twice(")
    assert "scale_and_report" not in source


def test_clone_suffixes_split(built: BuiltCorpus):
    assert built.relinked("sum_checked", ".cold")
    assert built.relinked("scale_by", ".constprop.0")
    for row in built.all_rows:
        assert "." not in row.function_name, row.function_name


def test_runtime_stubs_dropped(built: BuiltCorpus):
    unstripped = Path(built.relinked("sum_checked")[0].binary[:-len(".stripped")])
    twin_names = {name for names in symbols_by_address(unstripped).values() for name in names}
    assert {"_start", "main"} <= twin_names
    assert not CRT_NAMES & {row.function_name for row in built.all_rows}


def test_split_puts_project_in_one_split(built: BuiltCorpus):
    splits_of: dict[str, set[str]] = {}
    for split_name, rows in built.rows.items():
        for row in rows:
            splits_of.setdefault(row.project, set()).add(split_name)
    assert splits_of == {"alpha": {"train"}, "beta": {"eval"}}
    assert built.rows["test"] == []


def test_duplicate_assembly_removed(built: BuiltCorpus):
    assembly = [row.assembly for row in built.all_rows]
    assert len(assembly) == len(set(assembly))
    assert built.result.duplicates_removed >= 1
    names = {row.function_name for row in built.all_rows}
    assert "identity_alpha" in names
    assert "identity_beta" not in names


def test_summary_counts_sources_and_levels(built: BuiltCorpus):
    summary = json.loads((built.output_dir / "split_summary.json").read_text())
    assert summary["functions"] == {name: len(rows) for name, rows in built.rows.items()}
    by_source = summary["functions_by_source"]["train"]
    assert set(by_source) <= {"libs", "libs-relinked"}
    assert by_source["libs-relinked"] > 0
    assert sum(by_source.values()) == len(built.rows["train"])
    assert summary["opt_levels"]["train"] == {"distro": len(built.rows["train"])}


def test_lock_records_versions_and_hashes(built: BuiltCorpus, tiny_libraries: TinyLibraries):
    lock = json.loads((built.output_dir / "manifest.lock.json").read_text())
    assert lock["manifest_sha256"] == hashlib.sha256(tiny_libraries.manifest.read_bytes()).hexdigest()
    assert lock["toolchain"]["gcc"].startswith("gcc")
    packages = {entry["package"]: entry for entry in lock["packages"]}
    alpha = packages["binbridge-test-alpha"]
    assert alpha["manifest_version"] == TEST_VERSION
    assert alpha["status"] == "ok"
    assert alpha["files"] == [{"path": str(tiny_libraries.alpha),
                               "sha256": hashlib.sha256(tiny_libraries.alpha.read_bytes()).hexdigest()}]
    for name, entry in lock["outputs"].items():
        assert entry["sha256"] == hashlib.sha256((built.output_dir / name).read_bytes()).hexdigest()


def test_signatures_cover_training_projects_only(built: BuiltCorpus):
    index = SignatureIndex.load(built.output_dir / SIGNATURE_FILE)
    signed = set(index.exact.values())
    train_names = {row.function_name for row in built.rows["train"]}
    held_out_names = {row.function_name for row in built.rows["eval"] + built.rows["test"]}
    assert signed & train_names
    assert not signed & (held_out_names - train_names)
    cold = built.relinked("sum_checked", ".cold")[0]
    assert index.lookup(cold.assembly) is None


def test_missing_library_logged_and_skipped(built: BuiltCorpus):
    lock = json.loads((built.output_dir / "manifest.lock.json").read_text())
    beta = next(entry for entry in lock["packages"] if entry["package"] == "binbridge-test-beta")
    assert beta["status"] == "partial"
    assert any("libmissing.a" in failure and "not found" in failure for failure in beta["failures"])
    assert built.result.failed_packages == ["libs:binbridge-test-beta"]
    assert "libmissing.a" in (built.output_dir / "build.log").read_text()


def test_outputs_complete_without_staging(built: BuiltCorpus):
    names = {path.name for path in built.output_dir.iterdir()}
    assert {"train.csv", "eval.csv", "test.csv", "split_summary.json", "signatures.json", "manifest.lock.json",
            "build.log"} <= names
    assert not [name for name in names if name.startswith(".")]
    assert "build.failed.log" not in names


def test_parallel_build_matches_serial(tiny_libraries: TinyLibraries, tmp_path: Path):
    work_dir = tmp_path / "work"
    hashes = []
    for jobs in (1, 2):
        output_dir = tmp_path / f"out{jobs}"
        build_corpus(BuildConfig(manifest=tiny_libraries.manifest, output_dir=output_dir, sources=("libs",),
                                 jobs=jobs, work_dir=work_dir, show_progress=False))
        hashes.append({name: hashlib.sha256((output_dir / name).read_bytes()).hexdigest()
                       for name in ("train.csv", "eval.csv", "test.csv", "split_summary.json")})
    assert hashes[0] == hashes[1]
