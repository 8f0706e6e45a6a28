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


def test_identifier_passed_with_a_source_path_names_the_function():
    assert string_name(ABORT_CALL) == "notes_calloc"
    prediction = string_prediction(ABORT_CALL)
    assert prediction.name == "notes_calloc" and prediction.source == SOURCE_STRING


@pytest.mark.parametrize("assembly", [
    # No source path among the call's arguments: an identifier alone may be any string.
    'lea rdi, [rip + "notes_calloc"]\ncall FUNC',
    # Path and identifier belong to different calls.
    'lea rdi, [rip + "symbols.c"]\ncall FUNC\nlea rdi, [rip + "notes_calloc"]\ncall FUNC',
    # Two identifiers with one path: which one is __func__ is unknown.
    'lea rcx, [rip + "check"]\nlea rdx, [rip + "ptr"]\nlea rsi, [rip + "t.c"]\ncall <__assert_fail>',
    # Messages and truncated strings are not identifiers.
    'lea rdx, [rip + "out of memory"]\nlea rdi, [rip + "main.c"]\ncall FUNC',
    'lea rdx, [rip + "a_very_long_function_name_that_was_cut_by_..."]\nlea rdi, [rip + "x.c"]\ncall FUNC',
    "push rbp\nmov rbp, rsp\npop rbp\nret",
    "",
])
def test_no_name_without_the_pattern(assembly):
    assert string_name(assembly) is None


def test_most_frequent_candidate_wins():
    inlined = 'lea rdx, [rip + "helper"]\nlea rdi, [rip + "a.c"]\ncall FUNC\n'
    own = 'lea rdx, [rip + "outer"]\nlea rdi, [rip + "a.c"]\ncall FUNC\n'
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
    assert all(f["source"] == "model" for f in functions if f is not from_strings[0])

    result = run_cli("name", str(binary), "--format", "json", "--no_progress", "--no_string_names")
    assert result.returncode == 0, result.stderr
    assert {f["source"] for f in json.loads(result.stdout)["functions"]} == {"model"}
