"""Names read from __func__ strings: the rule on hand-written blocks, then on a stripped binary gcc builds."""

from __future__ import annotations

import json
import subprocess

import pytest

from binbridge.binary import iter_functions
from binbridge.inference.string_names import SOURCE_STRING, string_name, string_prediction
from tests.cli.cli_helpers import run_cli

ABORT_CALL = """push rbx
lea rdx, [rip + "notes_calloc"]
mov esi, 0x108
lea rdi, [rip + "../../gas/symbols.c"]
call FUNC
pop rbx
ret"""


def test_string_name_abort_call():
    assert string_name(ABORT_CALL) == "notes_calloc"
    prediction = string_prediction(ABORT_CALL)
    assert prediction.name == "notes_calloc"
    assert prediction.source == SOURCE_STRING


@pytest.mark.parametrize(("assembly", "expected"), [
    # Non-PIE code loads strings as immediates.
    ('mov edx, "parse_header"\nmov esi, 0x2a\nmov edi, "src/parse.c"\ncall FUNC', "parse_header"),
    # C++ assert passes __PRETTY_FUNCTION__: its name wins over the expression's identifier.
    ('lea rcx, [rip + "double geo::Rect::area() const"]\nmov edx, 0x11\nlea rsi, [rip + "p1.cpp"]\n'
     'lea rdi, [rip + "valid"]\ncall <__assert_fail>', "area"),
    ('lea rcx, [rip + "T twice(T) [with T = int]"]\nmov edx, 7\nlea rsi, [rip + "t.cc"]\ncall FUNC', "twice"),
    # A signature cut at 40 characters still shows the name before its bracket.
    ('lea rcx, [rip + "static geo::Rect geo::Rect::parse(const ..."]\nmov edx, 7\nlea rsi, [rip + "g.cpp"]\n'
     'lea rdi, [rip + "text"]\ncall <__assert_fail>', "parse"),
    # glibc assert(ctx): the expression is an identifier too, but __assert_fail takes the function in rcx.
    ('lea rcx, [rip + "close_context"]\nmov edx, 0x2a\nlea rsi, [rip + "ctx.c"]\nlea rdi, [rip + "ctx"]\n'
     'call <__assert_fail>', "close_context"),
    # OpenSSL: __FILE__ and __func__ are loaded before ERR_new(), the line after it.
    ('lea r12, [rip + "BIO_accept"]\nlea rbp, [rip + "../crypto/bio/bio_sock.c"]\ncall FUNC\n'
     'mov rdx, r12\nmov rdi, rbp\nmov esi, 0x106\ncall FUNC', "BIO_accept"),
])
def test_name_from_each_calling_pattern(assembly, expected):
    assert string_name(assembly) == expected


@pytest.mark.parametrize("assembly", [
    # No source path among the call's arguments: an identifier alone may be any string.
    'lea rdi, [rip + "notes_calloc"]\nmov esi, 0x10\ncall FUNC',
    # Path and identifier belong to different calls.
    'lea rdi, [rip + "symbols.c"]\nmov esi, 0x10\ncall FUNC\nlea rdi, [rip + "notes_calloc"]\ncall FUNC',
    # Two identifiers with one path: which one is __func__ is unknown.
    'lea rcx, [rip + "check"]\nlea rdx, [rip + "ptr"]\nmov esi, 9\nlea rsi, [rip + "t.c"]\ncall FUNC',
    # A stack adjustment is no line number: register_module("lexer", "lexer.c").
    'sub rsp, 8\nlea rsi, [rip + "lexer.c"]\nlea rdi, [rip + "lexer"]\ncall FUNC',
    # No line number near the path: fopen("settings.h", "readonly").
    'lea rsi, [rip + "readonly"]\nlea rdi, [rip + "settings.h"]\ncall <fopen>',
    # The identifier names a call the function makes: error_at_line(1, errno, __FILE__, __LINE__, "malloc").
    'call <malloc>\nlea r8, [rip + "malloc"]\nmov ecx, 0x1c\nlea rdx, [rip + "e1.c"]\ncall <error_at_line>',
    # A host name is no source path.
    'lea rdx, [rip + "homepage"]\nmov esi, 0x50\nlea rdi, [rip + "www.example.cc"]\ncall FUNC',
    # An assertion's expression is no signature, and a cut C++ signature hides which identifier is __func__.
    'lea rcx, [rip + "VG_IS_PAGE_ALIGNED(a)"]\nmov edx, 3\nlea rsi, [rip + "m.c"]\ncall FUNC',
    'lea rcx, [rip + "virtual void gold::Output_section::do_w..."]\nmov edx, 3\nlea rsi, [rip + "o.cc"]\n'
    'lea rdi, [rip + "valid"]\ncall FUNC',
    # Messages and truncated strings are not identifiers.
    'lea rdx, [rip + "out of memory"]\nmov esi, 5\nlea rdi, [rip + "main.c"]\ncall FUNC',
    'lea rdx, [rip + "a_very_long_function_name_that_was_cut_by_..."]\nmov esi, 5\nlea rdi, [rip + "x.c"]\ncall FUNC',
    "push rbp\nmov rbp, rsp\npop rbp\nret",
    "",
])
def test_no_name_without_the_pattern(assembly):
    assert string_name(assembly) is None


def test_most_frequent_candidate_wins():
    inlined = 'lea rdx, [rip + "helper"]\nmov esi, 4\nlea rdi, [rip + "a.c"]\ncall FUNC\n'
    own = 'lea rdx, [rip + "outer"]\nmov esi, 9\nlea rdi, [rip + "a.c"]\ncall FUNC\n'
    assert string_name(inlined + own + own) == "outer"
    assert string_name(inlined + own) == "helper"  # a tie goes to the first


ASSERT_PROGRAM = r"""
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) int check_positive(int value) {
    assert(value > 0);
    return value * 2;
}

__attribute__((noinline)) int add_numbers(int a, int b) { return a + b; }

int main(int argc, char **argv) {
    printf("%d\n", add_numbers(check_positive(argc), atoi(argv[0])));
    return 0;
}
"""


@pytest.fixture(scope="module")
def stripped_assert_binary(tmp_path_factory, gcc):
    folder = tmp_path_factory.mktemp("asserts")
    (folder / "checks.c").write_text(ASSERT_PROGRAM)
    subprocess.run([gcc, "-O1", "-g", "checks.c", "-o", "checks"], cwd=folder, check=True)
    subprocess.run(["strip", "-o", "checks.stripped", "checks"], cwd=folder, check=True)
    return folder


def test_assert_in_a_stripped_binary_gives_the_name(stripped_assert_binary):
    named = {f.name: f for f in iter_functions(stripped_assert_binary / "checks") if f.name}
    by_address = {f.address: f for f in iter_functions(stripped_assert_binary / "checks.stripped")}
    assert string_name(by_address[named["check_positive"].address].assembly) == "check_positive"
    assert string_name(by_address[named["add_numbers"].address].assembly) is None


def test_name_reports_string_source(stripped_assert_binary):
    binary = stripped_assert_binary / "checks.stripped"
    result = run_cli("name", str(binary), "--format", "json", "--no_progress")
    assert result.returncode == 0, result.stderr
    functions = json.loads(result.stdout)["functions"]
    from_strings = [f for f in functions if f["source"] == SOURCE_STRING]
    assert [f["name"] for f in from_strings] == ["check_positive"]
    assert all(f["source"] in ("words", "model", "runtime") for f in functions if f is not from_strings[0])

    result = run_cli("name", str(binary), "--format", "json", "--no_progress", "--no_string_names")
    assert result.returncode == 0, result.stderr
    assert {f["source"] for f in json.loads(result.stdout)["functions"]} <= {"words", "model", "runtime"}
