"""Static archives: member naming, symbol-index use, import detection across members, and the system libc.a."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from binary_helpers import SampleBuild, require_tools, run_tool

from binbridge.binary import describe_binary, iter_function_runs, iter_functions
from binbridge.binary.archive import Archive
from binbridge.binary.parallel import balanced_runs

LIBC_ARCHIVE = Path("/usr/lib/x86_64-linux-gnu/libc.a")
LONG_MEMBER = "a_member_with_a_rather_long_name.o"
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
IMPORT = re.compile(r"<([^<>\s]+)>")

CALLER_SOURCE = """
#include <stdio.h>
#include <string.h>
int factorial(int n);
extern const char provided_text[];
int provided_function(int value);
int use_factorial(const char *text) { puts(text); return factorial((int) strlen(text)); }
void *use_provider(void) { puts(provided_text); return (void *) provided_function; }
"""
PROVIDER_SOURCE = """
const char provided_text[] = "text from another member";
int provided_function(int value) { return value * 3; }
"""


def import_names(assembly: str) -> set[str]:
    return set(IMPORT.findall(QUOTED.sub("", assembly)))


@pytest.fixture(scope="module")
def small_archive(sample: SampleBuild) -> Path:
    require_tools("gcc", "ar")
    directory = sample.directory
    (directory / "caller.c").write_text(CALLER_SOURCE)
    run_tool("gcc", "-O1", "-c", directory / "caller.c", "-o", directory / LONG_MEMBER)
    (directory / "provider.c").write_text(PROVIDER_SOURCE)
    run_tool("gcc", "-O1", "-c", directory / "provider.c", "-o", directory / "provider.o")
    (directory / "notes.txt").write_text("not an object file\n")
    archive = directory / "libsmall.a"
    archive.unlink(missing_ok=True)
    run_tool("ar", "rcs", archive, sample.object, directory / LONG_MEMBER, directory / "provider.o",
             directory / "notes.txt")
    return archive


def test_member_names_match_ar(small_archive: Path) -> None:
    listed = run_tool("ar", "t", small_archive).split()
    archive = Archive(small_archive.read_bytes(), str(small_archive))
    assert [member.name for member in archive.members()] == listed
    assert LONG_MEMBER in listed


def test_functions_name_their_member(small_archive: Path) -> None:
    functions = list(iter_functions(small_archive))
    members = {function.binary for function in functions}
    assert members == {f"{small_archive}:sample.o", f"{small_archive}:{LONG_MEMBER}", f"{small_archive}:provider.o"}
    assert all(function.source == "symtab" for function in functions)


def test_archive_defined_symbols_are_internal(small_archive: Path, sample: SampleBuild) -> None:
    use = next(function for function in iter_functions(small_archive) if function.name == "use_factorial")
    assert "call FUNC" in use.assembly
    assert "factorial" not in use.assembly
    assert import_names(use.assembly) == {"puts", "strlen"}

    alone = sample.directory / LONG_MEMBER
    standalone = next(function for function in iter_functions(alone) if function.name == "use_factorial")
    assert "call <factorial>" in standalone.assembly


def test_archive_strings_and_functions_resolve(small_archive: Path, sample: SampleBuild) -> None:
    use = next(function for function in iter_functions(small_archive) if function.name == "use_provider")
    assert 'lea rdi, [rip + "text from another member"]' in use.assembly
    assert "[rip + FUNC]" in use.assembly
    assert "provided" not in QUOTED.sub("", use.assembly)

    standalone = next(f for f in iter_functions(sample.directory / LONG_MEMBER) if f.name == "use_provider")
    assert "<provided_text>" in standalone.assembly


def test_non_elf_member_is_skipped(small_archive: Path, caplog: pytest.LogCaptureFixture) -> None:
    list(iter_functions(small_archive))
    assert "notes.txt: skipping archive member that is not an ELF file" in caplog.text


def test_small_archive_with_jobs_matches_sequential(small_archive: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    sequential = [(f.binary, f.address, f.assembly) for f in iter_functions(small_archive)]
    caplog.clear()
    # Too small for worker processes, so the runs are extracted in this process.
    parallel = [(f.binary, f.address, f.assembly) for f in iter_functions(small_archive, jobs=2)]
    assert parallel == sequential
    assert "notes.txt: skipping archive member that is not an ELF file" in caplog.text


def test_archive_without_index_scans_members(small_archive: Path, sample: SampleBuild) -> None:
    plain = sample.directory / "libplain.a"
    plain.unlink(missing_ok=True)
    run_tool("ar", "rcS", plain, sample.object, sample.directory / LONG_MEMBER)
    assert Archive(plain.read_bytes(), str(plain)).symbol_index is None
    use = next(function for function in iter_functions(plain) if function.name == "use_factorial")
    assert "call FUNC" in use.assembly


def test_bsd_long_names_are_read(sample: SampleBuild, tmp_path: Path) -> None:
    payload = sample.object.read_bytes()
    name = b"bsd_style_long_member_name.o"
    header = f"#1/{len(name):<13}0           0     0     644     {len(name) + len(payload):<10}`\n".encode()
    archive = tmp_path / "libbsd.a"
    archive.write_bytes(b"!<arch>\n" + header + name + payload + b"\n" * ((len(name) + len(payload)) % 2))
    functions = list(iter_functions(archive))
    assert {function.binary for function in functions} == {f"{archive}:bsd_style_long_member_name.o"}
    assert "greet_user" in {function.name for function in functions}


def test_describe_archive(small_archive: Path) -> None:
    info = describe_binary(small_archive)
    assert info.kind == "archive"
    assert info.arch == "x86_64"
    assert info.stripped is False


@pytest.fixture(scope="module")
def libc_functions() -> list:
    if not LIBC_ARCHIVE.exists():
        pytest.skip(f"{LIBC_ARCHIVE} is not installed (libc6-dev)")
    return list(iter_functions(LIBC_ARCHIVE))


def test_libc_members_match_ar() -> None:
    if not LIBC_ARCHIVE.exists() or shutil.which("ar") is None:
        pytest.skip("needs libc.a and ar")
    listed = run_tool("ar", "t", LIBC_ARCHIVE).split("\n")[:-1]
    archive = Archive(LIBC_ARCHIVE.read_bytes(), str(LIBC_ARCHIVE))
    assert [member.name for member in archive.members()] == listed


def test_libc_function_count(libc_functions: list) -> None:
    assert len(libc_functions) > 2000
    # A few assembly routines without a sized symbol (one sits in libc_sigaction.o) come from their FDE.
    sources = [function.source for function in libc_functions]
    assert set(sources) <= {"symtab", "eh_frame"}
    assert sources.count("eh_frame") < 10
    assert sum(function.num_instructions for function in libc_functions) > 100_000


def test_libc_imports_are_not_defined_in_archive(libc_functions: list) -> None:
    defined = Archive(LIBC_ARCHIVE.read_bytes(), str(LIBC_ARCHIVE)).symbol_index
    imported = set()
    for function in libc_functions:
        imported |= import_names(function.assembly)
    assert imported
    assert not imported & defined
    assert "malloc" not in imported


def test_libc_function_never_names_itself(libc_functions: list) -> None:
    for function in libc_functions[:500]:
        assert f"<{function.name}>" not in function.assembly, function.binary


def test_libc_parallel_extraction_matches_sequential(libc_functions: list) -> None:
    parallel = list(iter_functions(LIBC_ARCHIVE, jobs=2))
    assert len(parallel) == len(libc_functions)
    assert [(f.binary, f.address, f.name) for f in parallel] == [(f.binary, f.address, f.name) for f in libc_functions]
    assert [f.assembly for f in parallel] == [f.assembly for f in libc_functions]


def test_libc_parallel_runs_match_sequential(libc_functions: list) -> None:
    def addresses(functions: list) -> list[tuple[str, int]]:
        return [(function.binary, function.address) for function in functions]

    parallel = list(iter_function_runs(LIBC_ARCHIVE, addresses, jobs=2))
    sequential = list(iter_function_runs(LIBC_ARCHIVE, addresses, jobs=1))
    assert len(parallel) > 2
    assert sum(parallel, []) == addresses(libc_functions)
    assert sum(sequential, []) == addresses(libc_functions)


@pytest.mark.parametrize(("sizes", "runs", "expected"), [
    ([1] * 10, 3, [(0, 4), (4, 7), (7, 10)]),
    ([100, 1, 1, 1, 1], 4, [(0, 1), (1, 2), (2, 3), (3, 5)]),
    ([5, 0, 0, 0], 2, [(0, 1), (1, 4)]),
    ([3, 3, 3, 3], 16, [(0, 1), (1, 2), (2, 3), (3, 4)]),
    ([0, 0, 0], 5, [(0, 1), (1, 2), (2, 3)]),
    ([], 4, []),
])
def test_balanced_runs_split_by_size(sizes: list[int], runs: int, expected: list[tuple[int, int]]) -> None:
    assert balanced_runs(sizes, runs) == expected
