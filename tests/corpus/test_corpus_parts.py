"""Parts of the corpus builder on small inputs: brace matching, stub linking, debug files, compiling."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from binbridge.corpus.compile import compile_archive
from binbridge.corpus.dbg import debug_pair_records, debug_pairs
from binbridge.corpus.dwarf import SourceLocation
from binbridge.corpus.manifest import CompiledSource
from binbridge.corpus.relink import relink_archive, trivial_main
from binbridge.corpus.rows import RowContext
from binbridge.corpus.source_text import function_source, matching_brace_end
from binbridge.corpus.twin import twin_records
from corpus_helpers import require_tools, run_tool

GNU_STYLE = '''/* helpers */
static int
parse_flags (const char *text)
{
  /* a } in a comment */
  const char *open = "{";
  char close = '}';
  return text[0] == open[0] || text[0] == close;
}

int next_function (void) { return 1; }
'''


def test_brace_matcher_skips_comments_and_literals():
    end = matching_brace_end(GNU_STYLE[GNU_STYLE.index("parse_flags"):])
    assert end is not None
    assert GNU_STYLE[GNU_STYLE.index("parse_flags"):][:end].endswith("== close;\n}")


def test_brace_matcher_rejects_prototype():
    assert matching_brace_end("int parse_flags (const char *text);\nint other (void) { return 0; }") is None


def test_function_source_includes_return_type_line(tmp_path: Path):
    path = tmp_path / "flags.c"
    path.write_text(GNU_STYLE)
    text = function_source(SourceLocation("parse_flags", str(path), 3))
    assert text.startswith("static int\nparse_flags (const char *text)\n{")
    assert "next_function" not in text


def test_function_source_rejects_wrong_name(tmp_path: Path):
    path = tmp_path / "flags.c"
    path.write_text(GNU_STYLE)
    assert function_source(SourceLocation("expanded_by_macro", str(path), 3)) == ""
    assert function_source(SourceLocation("parse_flags", str(tmp_path / "missing.c"), 3)) == ""


@pytest.fixture(scope="module")
def tools():
    require_tools("gcc", "ar", "strip", "objcopy")


def test_relink_defines_undefined_symbols_as_stubs(tools, tmp_path: Path):
    source = tmp_path / "uses_missing.c"
    source.write_text("extern int missing_counter;\nextern int missing_helper(int);\n"
                      "int bump(int value)\n{\n    return missing_helper(value) + missing_counter;\n}\n")
    run_tool("gcc", "-O2", "-c", source, "-o", tmp_path / "uses_missing.o")
    run_tool("ar", "rcs", tmp_path / "libmissing.a", tmp_path / "uses_missing.o")
    twin = relink_archive(tmp_path / "libmissing.a", tmp_path / "relink", "libmissing", trivial_main(tmp_path), ())
    assert twin.stub_symbols == 2
    rows = twin_records(twin, RowContext("missing", "O2", drop_main=True), Counter())
    assert [row.function_name for row in rows] == ["bump"]
    assert "call <missing_helper>" in rows[0].assembly


def test_debug_file_names_stripped_library(tools, tmp_path: Path):
    source = tmp_path / "shared.c"
    source.write_text("static int helper(int value)\n{\n    return value * 7 + 1;\n}\n"
                      "int __attribute__((noinline)) exported_sum(int a, int b)\n{\n    return helper(a) + b;\n}\n"
                      "int exported_twice(int a)\n{\n    return exported_sum(a, a) * 2;\n}\n")
    library = tmp_path / "libshared.so"
    run_tool("gcc", "-O1", "-fno-inline", "-shared", "-fPIC", "-Wl,--build-id", source, "-o", library)
    build_id = run_tool("readelf", "-n", library).split("Build ID:")[1].split()[0]
    debug_root = tmp_path / "debug"
    debug_file = debug_root / ".build-id" / build_id[:2] / f"{build_id[2:]}.debug"
    debug_file.parent.mkdir(parents=True)
    run_tool("objcopy", "--only-keep-debug", library, debug_file)
    run_tool("strip", "--strip-all", library)

    pairs = debug_pairs([library, tmp_path / "not-elf.txt"], debug_root)
    assert [(pair.stripped, pair.debug, pair.build_id) for pair in pairs] == [(library, debug_file, build_id)]
    rows = debug_pair_records(pairs[0], RowContext("shared", "distro"), Counter())
    assert {row.function_name for row in rows} >= {"helper", "exported_sum", "exported_twice"}


def test_compile_archive_skips_failing_file(tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tree = tmp_path / "tree"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "good.c").write_text('#include "config.h"\nint good(void)\n{\n    return GOOD_VALUE;\n}\n')
    (tree / "src" / "bad.c").write_text("int bad(void)\n{\n    return missing_symbol_here;\n}\n")
    (tree / "src" / "skipped.c").write_text("int skipped(void) { return 0; }\n")
    source = CompiledSource(kind="debsrc", name="tiny", version="1.0", project="tiny", sources=("src/*.c",),
                            exclude=("src/skipped.c",), include_dirs=("src",), defines=(), cflags=(), link_libs=(),
                            sha256=None, generated_files={"src/config.h": "#define GOOD_VALUE 42\n"})
    monkeypatch.chdir(tmp_path)
    compiled = compile_archive(Path("tree"), source, "O1", ("-g",), Path("build"))
    assert compiled.failed_files == ["src/bad.c"]
    assert compiled.objects == 1
    assert "missing_symbol_here" in compiled.first_error
    assert compiled.archive is not None
    members = run_tool("ar", "t", compiled.archive).split()
    assert members == ["src__good.o"]
    assert compiled.archive.is_absolute()
