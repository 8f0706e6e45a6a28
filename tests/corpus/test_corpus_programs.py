"""Program packages: a tree with its own configure script is built, stripped and named from its symbols."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from binbridge.corpus.manifest import ProgramFlags, ProgramSource, load_manifest
from binbridge.corpus.units import ProgramUnit, run_unit
from binbridge.errors import InputError
from corpus_helpers import base_manifest, require_tools

TOOL_C = r'''#include <stdio.h>
#include <string.h>

static __attribute__((noinline)) int count_words(const char *text)
{
    int words = 0, inside = 0;
    for (; *text; text++) {
        if (*text == ' ') inside = 0;
        else if (!inside) { inside = 1; words++; }
    }
    return words;
}

const char *where_am_i(void)
{
    return __FILE__;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        printf("%d %s\n", count_words(argv[i]), where_am_i());
    return 0;
}
'''

# A configure script in the autotools manner: it writes the Makefile from the variables it is given.
# The doc target fails, as documentation does on machines without makeinfo.
CONFIGURE = r'''#!/bin/sh
for arg in "$@"; do
  case "$arg" in
    CFLAGS=*) cflags="${arg#CFLAGS=}" ;;
    CPPFLAGS=*) cppflags="${arg#CPPFLAGS=}" ;;
    LDFLAGS=*) ldflags="${arg#LDFLAGS=}" ;;
    --fail) echo "configure: error: missing library" >&2; exit 1 ;;
  esac
done
printf 'all: src/tool doc\nsrc/tool: src/tool.c\n\tgcc %s %s %s -o src/tool $(CURDIR)/src/tool.c\ndoc:\n\tfalse\n' \
  "$cflags" "$cppflags" "$ldflags" > Makefile
'''

FLAGS = ProgramFlags(("-g", "-O2"), ("-D_FORTIFY_SOURCE=2",), ("-Wl,-z,relro",))


@pytest.fixture
def tool_tree(tmp_path: Path) -> Path:
    require_tools("gcc", "make", "strip")
    tree = tmp_path / "tree"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "tool.c").write_text(TOOL_C)
    (tree / "configure").write_text(CONFIGURE)
    (tree / "configure").chmod(0o755)
    return tree


def program_unit(tree: Path, build_dir: Path, programs: tuple[str, ...] = ("src/tool",),
                 configure_args: tuple[str, ...] = ()) -> ProgramUnit:
    source = ProgramSource("tool", "1.0-1", "tool", programs, configure_args, ())
    return ProgramUnit(source, tree, (), FLAGS, build_dir, 1)


def test_program_rows_named_from_symbols(tool_tree: Path, tmp_path: Path):
    result = run_unit(program_unit(tool_tree, tmp_path / "build"))
    assert result.failures == []
    rows = {record.function_name: record for record in result.rows["programs"]}
    assert {"count_words", "where_am_i", "main"} <= set(rows)
    record = rows["where_am_i"]
    assert record.opt_level == "O2"
    assert record.project == "tool"
    # -fmacro-prefix-map turns the absolute __FILE__ of the build tree into a path that is the same on
    # every machine, so signatures of this code do not depend on where the corpus was built.
    assert "./src/tool.c" in record.assembly
    assert str(tmp_path) not in record.assembly
    assert "count_words" not in rows["main"].assembly
    # DWARF keeps absolute paths, so the source join finds the function's text.
    assert "inside = 0" in rows["count_words"].source_code
    assert (tool_tree / "Makefile").exists() is False  # the download's tree stays untouched


def test_program_missing_after_build_is_a_failure(tool_tree: Path, tmp_path: Path):
    result = run_unit(program_unit(tool_tree, tmp_path / "build", programs=("src/tool", "src/other")))
    assert any("src/other" in failure for failure in result.failures)
    assert {record.function_name for record in result.rows["programs"]} >= {"count_words"}


def test_configure_failure_recorded_not_raised(tool_tree: Path, tmp_path: Path):
    result = run_unit(program_unit(tool_tree, tmp_path / "build", configure_args=("--fail",)))
    assert result.row_count == 0
    assert len(result.failures) == 1
    assert "configure" in result.failures[0]


def test_finished_build_is_reused(tool_tree: Path, tmp_path: Path):
    build_dir = tmp_path / "build"
    run_unit(program_unit(tool_tree, build_dir))
    built = build_dir / "tree" / "src" / "tool"
    stamp = built.stat().st_mtime_ns
    result = run_unit(program_unit(tool_tree, build_dir))
    assert built.stat().st_mtime_ns == stamp
    assert result.row_count > 0


def test_build_missing_a_program_not_rebuilt(tool_tree: Path, tmp_path: Path):
    build_dir = tmp_path / "build"
    run_unit(program_unit(tool_tree, build_dir, programs=("src/tool", "src/other")))
    stamp = (build_dir / "tree" / "src" / "tool").stat().st_mtime_ns
    result = run_unit(program_unit(tool_tree, build_dir, programs=("src/tool", "src/other")))
    assert (build_dir / "tree" / "src" / "tool").stat().st_mtime_ns == stamp
    assert any("make failed" in failure for failure in result.failures)


def test_changed_arguments_rebuild(tool_tree: Path, tmp_path: Path):
    build_dir = tmp_path / "build"
    run_unit(program_unit(tool_tree, build_dir))
    (build_dir / "tree" / "src" / "tool").write_bytes(b"stale")
    result = run_unit(program_unit(tool_tree, build_dir, configure_args=("--enable-feature",)))
    assert result.failures == []
    assert (build_dir / "tree" / "src" / "tool").read_bytes()[:4] == b"\x7fELF"


def test_script_program_reported_not_elf(tool_tree: Path, tmp_path: Path):
    (tool_tree / "src" / "wrapper").write_text("#!/bin/sh\nexec src/.libs/wrapper \"$@\"\n")
    result = run_unit(program_unit(tool_tree, tmp_path / "build", programs=("src/tool", "src/wrapper")))
    assert any("not an ELF file (a libtool wrapper script?): src/wrapper" in failure for failure in result.failures)
    assert "count_words" in {record.function_name for record in result.rows["programs"]}


def test_deleted_tree_rebuilt_despite_stamp(tool_tree: Path, tmp_path: Path):
    build_dir = tmp_path / "build"
    run_unit(program_unit(tool_tree, build_dir))
    shutil.rmtree(build_dir / "tree")
    result = run_unit(program_unit(tool_tree, build_dir))
    assert result.failures == []
    assert result.row_count > 0


def program_manifest(entry: dict, **flags) -> dict:
    data = base_manifest(Path("/nonexistent/lib"), [{"package": "binbridge-test-alpha", "version": "1.0",
                                                      "libraries": [{"file": "libalpha.a", "project": "alpha"}]}],
                         splits={"eval": [], "test": []})
    data["sources"]["programs"] = {"cflags": ["-g", "-O2"], **flags, "packages": [entry]}
    return data


GREP = {"package": "grep", "version": "3.8-5", "project": "grep", "programs": ["src/grep"]}


def test_manifest_program_entry_loads(tmp_path: Path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(program_manifest(GREP, cppflags=["-D_FORTIFY_SOURCE=2"])))
    manifest = load_manifest(path)
    assert manifest.programs[0].programs == ("src/grep",)
    assert manifest.program_flags.cppflags == ("-D_FORTIFY_SOURCE=2",)
    assert "grep" in manifest.projects()


@pytest.mark.parametrize("change, flags, field", [
    ({"programs": []}, {}, "sources.programs.packages[0].programs"),
    ({"programs": ["../outside"]}, {}, "sources.programs.packages[0].programs"),
    ({"package": "coreutils", "project": "gnu-coreutils"}, {}, "sources.programs.packages[0].package"),
    ({"project": "coreutils"}, {}, "sources.programs.packages[0].project"),
    ({}, {"cflags": ["-O2"]}, "sources.programs.cflags"),
    ({"configure": "./configure"}, {}, "sources.programs.packages[0].configure"),
    ({"programs": ["src/"]}, {}, "sources.programs.packages[0].programs"),
    ({"programs": ["."]}, {}, "sources.programs.packages[0].programs"),
    ({"programs": ["src/grep", "src/grep"]}, {}, "sources.programs.packages[0].programs"),
    ({"package": "../../etc"}, {}, "sources.programs.packages[0].package"),
    ({"version": "../../x"}, {}, "sources.programs.packages[0].version"),
    ({}, {"cflags": ["-g", "-O9"]}, "sources.programs.cflags"),
    ({}, {"cflags": ["-g", "-g0"]}, "sources.programs.cflags"),
    ({}, {"cflags": ["-g", "-O2 -g0"]}, "sources.programs.cflags"),
    ({"programs": ["a/b__c", "a__b/c"]}, {}, "sources.programs.packages[0].programs"),
    ({"programs": ["src/./grep"]}, {}, "sources.programs.packages[0].programs"),
    ({"version": "1_3.8"}, {}, "sources.programs.packages[0].version"),
])
def test_invalid_program_field_named(tmp_path: Path, change: dict, flags: dict, field: str):
    entry = copy.deepcopy(GREP)
    entry.update(change)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(program_manifest(entry, **flags)))
    with pytest.raises(InputError) as caught:
        load_manifest(path)
    message = str(caught.value)
    assert field in message
    assert "\n" not in message


def test_same_package_version_twice_rejected(tmp_path: Path):
    data = program_manifest(GREP)
    data["sources"]["programs"]["packages"].append(dict(GREP, project="grep2"))
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"sources.programs.packages\[1\]: grep 3.8-5 is listed twice"):
        load_manifest(path)


def test_error_lines_keep_errors_not_checks():
    from binbridge.corpus.programs import _error_lines

    output = ("checking for strerror_r... yes\ngcc -Werror=format-security -c xstrtol-error.c\n"
              "configure: error: no acceptable m4\n")
    assert _error_lines(output) == "configure: error: no acceptable m4"
    assert _error_lines("one\ntwo\nthree", limit=2) == "two\nthree"
