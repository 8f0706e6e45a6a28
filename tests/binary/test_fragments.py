"""Cold parts of split functions: hand-built jump graphs, then a gcc -O2 binary checked against its symbols."""

from __future__ import annotations

import json
import subprocess

import pytest

from binbridge.binary import iter_functions
from binbridge.binary.fragments import MAX_TAIL_JUMPED_PART, FunctionSpan, find_cold_parents, span_of
from binbridge.binary.records import BRANCH_CALL, BRANCH_CONDITIONAL, BRANCH_JUMP, OutsideBranch
from binbridge.inference.naming import cold_symbol_base
from tests.cli.cli_helpers import run_cli

HOT, COLD, OTHER = 0x2000, 0x1000, 0x3000


def span(address: int, *branches: tuple[int, str], size: int = 0x100, returns: bool = True) -> FunctionSpan:
    return FunctionSpan(address, size, tuple(OutsideBranch(target, kind) for target, kind in branches), returns)


def test_conditional_jump_and_jump_back_tie_the_parts():
    spans = [span(HOT, (COLD, BRANCH_CONDITIONAL)), span(COLD, (HOT + 0x50, BRANCH_JUMP), size=0x20)]
    assert find_cold_parents(spans) == {COLD: HOT}


def test_jump_into_the_middle_alone_ties_the_parts():
    spans = [span(HOT, (COLD + 0x8, BRANCH_JUMP)), span(COLD, size=0x20)]
    assert find_cold_parents(spans) == {COLD: HOT}


def test_tie_lower_part_is_cold():
    # A conditional jump ties the parts both ways; the linker puts .text.unlikely first.
    spans = [span(COLD, (HOT, BRANCH_CONDITIONAL)), span(HOT, size=0x20)]
    assert find_cold_parents(spans) == {COLD: HOT}


def test_tail_jump_to_called_function():
    spans = [span(HOT, (COLD, BRANCH_JUMP)), span(COLD, size=0x20, returns=False), span(OTHER, (COLD, BRANCH_CALL))]
    assert find_cold_parents(spans) == {}


def test_tail_jump_to_small_block():
    spans = [span(HOT, (COLD, BRANCH_JUMP)), span(COLD, size=0x20, returns=False)]
    assert find_cold_parents(spans) == {COLD: HOT}


@pytest.mark.parametrize(("size", "returns"), [(0x20, True), (MAX_TAIL_JUMPED_PART + 1, False)])
def test_tail_jump_to_large_or_returning(size, returns):
    # Functions that are only tail-called (Lua's codearith from luaK_posfix) return or are large.
    spans = [span(HOT, (COLD, BRANCH_JUMP)), span(COLD, size=size, returns=returns)]
    assert find_cold_parents(spans) == {}


def test_tail_jump_to_higher_function():
    # A function reached only through a pointer tail-calls its neighbour (binutils pseudo-op handlers).
    spans = [span(COLD, (HOT, BRANCH_JUMP)), span(HOT, size=0x20, returns=False)]
    assert find_cold_parents(spans) == {}


def test_part_tied_to_two_functions_is_left_out():
    spans = [span(HOT, (COLD, BRANCH_CONDITIONAL)), span(OTHER, (COLD + 4, BRANCH_JUMP)), span(COLD, size=0x20)]
    assert find_cold_parents(spans) == {}


def test_called_function_is_never_a_cold_part():
    spans = [span(HOT, (COLD, BRANCH_CONDITIONAL), (COLD, BRANCH_CALL)), span(COLD)]
    assert find_cold_parents(spans) == {}


def test_targets_outside_every_function_are_ignored():
    assert find_cold_parents([span(HOT, (0x9000, BRANCH_CONDITIONAL), (HOT + 4, BRANCH_JUMP))]) == {}


SPLIT_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>

__attribute__((cold, noinline)) static void report_failure(const char *what, int code) {
    fprintf(stderr, "failure in %s: %d\n", what, code);
}

/* noipa: otherwise GCC clones fail_at with the strings built in (fail_at.constprop.0). */
__attribute__((cold, noipa, noreturn)) static void fail_at(const char *file, int line, const char *function) {
    fprintf(stderr, "%s:%d: %s failed\n", file, line, function);
    exit(4);
}

__attribute__((noinline)) long sum_checked(const long *values, int count) {
    long total = 0;
    for (int i = 0; i < count; i++) {
        if (values[i] < 0) {
            report_failure("sum", i);
            fail_at("split.c", __LINE__, __func__);
        }
        total += values[i] * (i + 1);
    }
    return total;
}

int main(int argc, char **argv) {
    long values[4] = {argc, 2, 3, 4};
    printf("%ld\n", sum_checked(values, 4));
    return 0;
}
"""


@pytest.fixture(scope="module")
def split_binary(tmp_path_factory, gcc):
    folder = tmp_path_factory.mktemp("split")
    (folder / "split.c").write_text(SPLIT_PROGRAM)
    subprocess.run([gcc, "-O2", "split.c", "-o", "split"], cwd=folder, check=True)
    subprocess.run(["strip", "-o", "split.stripped", "split"], cwd=folder, check=True)
    symbols = {f.name: f.address for f in iter_functions(folder / "split") if f.name}
    assert "sum_checked.cold" in symbols, f"gcc -O2 did not split sum_checked: {sorted(symbols)}"
    return folder, symbols


def test_stripped_cold_part_matches_the_symbol_table(split_binary):
    folder, symbols = split_binary
    functions = list(iter_functions(folder / "split.stripped"))
    spans = [span_of(f) for f in functions]
    # report_failure.constprop.0 also sits in .text.unlikely, but it is called, so it stays a function.
    assert find_cold_parents(spans) == {symbols["sum_checked.cold"]: symbols["sum_checked"]}


def test_name_calls_the_cold_part_after_its_function(split_binary):
    folder, symbols = split_binary
    result = run_cli("name", str(folder / "split.stripped"), "--format", "json", "--no_progress")
    assert result.returncode == 0, result.stderr
    by_address = {int(f["address"], 16): f for f in json.loads(result.stdout)["functions"]}
    hot, cold = by_address[symbols["sum_checked"]], by_address[symbols["sum_checked.cold"]]
    # The error path, and with it the __func__ string, sits in the cold part; it names both parts.
    assert (hot["name"], hot["source"]) == ("sum_checked", "string")
    assert (cold["name"], cold["source"], cold["confidence"]) == ("sum_checked.cold", "cold", hot["confidence"])

    result = run_cli("name", str(folder / "split.stripped"), "--format", "json", "--no_progress", "--no_cold_parts")
    assert result.returncode == 0, result.stderr
    assert "cold" not in {f["source"] for f in json.loads(result.stdout)["functions"]}


def test_kept_cold_symbol_names_its_function(split_binary):
    folder, symbols = split_binary
    subprocess.run(["strip", "-K", "sum_checked.cold", "-o", "split.keep_cold", "split"], cwd=folder, check=True)
    result = run_cli("name", str(folder / "split.keep_cold"), "--format", "json", "--no_progress",
                     "--no_string_names")
    assert result.returncode == 0, result.stderr
    by_address = {int(f["address"], 16): f for f in json.loads(result.stdout)["functions"]}
    assert (by_address[symbols["sum_checked"]]["name"], by_address[symbols["sum_checked"]]["source"]) == (
        "sum_checked", "symbol")
    assert by_address[symbols["sum_checked.cold"]]["name"] == "sum_checked.cold"


TWO_PARTS = """
\t.intel_syntax noprefix
\t.section .text.unlikely,"ax",@progbits
\t.type twice_split.cold, @function
twice_split.cold:
\t.cfi_startproc
\tlea rdi, [rip + .Lzero]
\tcall puts@PLT
\tcall abort@PLT
\t.cfi_endproc
\t.size twice_split.cold, .-twice_split.cold
\t.type twice_split.cold.1, @function
twice_split.cold.1:
\t.cfi_startproc
\tmov eax, -1
\tjmp .Lreturn
\t.cfi_endproc
\t.size twice_split.cold.1, .-twice_split.cold.1
\t.text
\t.globl twice_split
\t.type twice_split, @function
twice_split:
\t.cfi_startproc
\ttest edi, edi
\tje twice_split.cold
\tcmp edi, 5
\tje twice_split.cold.1
\tlea eax, [rdi + rdi*2]
.Lreturn:
\tret
\t.cfi_endproc
\t.size twice_split, .-twice_split
\t.globl main
\t.type main, @function
main:
\t.cfi_startproc
\tsub rsp, 8
\t.cfi_def_cfa_offset 16
\tcall twice_split
\tadd rsp, 8
\t.cfi_def_cfa_offset 8
\tret
\t.cfi_endproc
\t.size main, .-main
\t.section .rodata
.Lzero: .string "zero"
\t.section .note.GNU-stack,"",@progbits
"""


def test_name_numbers_second_cold_part(tmp_path, gcc):
    (tmp_path / "two.s").write_text(TWO_PARTS)
    subprocess.run([gcc, "two.s", "-o", "two"], cwd=tmp_path, check=True)
    subprocess.run(["strip", "-o", "two.stripped", "two"], cwd=tmp_path, check=True)
    symbols = {f.name: f.address for f in iter_functions(tmp_path / "two") if f.name}
    result = run_cli("name", str(tmp_path / "two.stripped"), "--format", "json", "--no_progress")
    assert result.returncode == 0, result.stderr
    by_address = {int(f["address"], 16): f for f in json.loads(result.stdout)["functions"]}
    function = by_address[symbols["twice_split"]]["name"]
    assert by_address[symbols["twice_split.cold"]]["name"] == function + ".cold"
    assert by_address[symbols["twice_split.cold.1"]]["name"] == function + ".cold.1"


def test_name_refuses_to_overwrite_its_input(split_binary):
    folder, _ = split_binary
    target = folder / "copy"
    target.write_bytes((folder / "split.stripped").read_bytes())
    result = run_cli("name", str(target), "-o", str(target), "--no_progress")
    assert result.returncode == 2
    assert "output path is the input" in result.stderr
    assert target.read_bytes() == (folder / "split.stripped").read_bytes()


@pytest.mark.parametrize(("symbol", "base"), [
    ("parse.cold", "parse"), ("walk.isra.0.cold", "walk.isra.0"), ("f.cold.1", "f"), ("cold", None), ("parse", None),
])
def test_cold_symbol_base(symbol, base):
    assert cold_symbol_base(symbol) == base


IMPORT_MESSAGE_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((cold, noipa, noreturn)) static void fail_at(const char *file, int line, const char *what) {
    fprintf(stderr, "%s:%d: %s failed\n", file, line, what);
    exit(2);
}

__attribute__((noinline)) char *copy_text(const char *text) {
    size_t length = strlen(text) + 1;
    char *copy = malloc(length);
    if (copy == NULL)
        fail_at("copy.c", __LINE__, "malloc");
    return memcpy(copy, text, length);
}

int main(int argc, char **argv) {
    puts(copy_text(argv[argc - 1]));
    return 0;
}
"""


def test_name_ignores_import_message(tmp_path, gcc):
    (tmp_path / "copy.c").write_text(IMPORT_MESSAGE_PROGRAM)
    subprocess.run([gcc, "-O2", "copy.c", "-o", "copy"], cwd=tmp_path, check=True)
    subprocess.run(["strip", "-o", "copy.stripped", "copy"], cwd=tmp_path, check=True)
    symbols = {f.name: f.address for f in iter_functions(tmp_path / "copy") if f.name}
    assert "copy_text.cold" in symbols, f"gcc -O2 did not split copy_text: {sorted(symbols)}"
    result = run_cli("name", str(tmp_path / "copy.stripped"), "--format", "json", "--no_progress")
    assert result.returncode == 0, result.stderr
    by_address = {int(f["address"], 16): f for f in json.loads(result.stdout)["functions"]}
    assert by_address[symbols["copy_text"]]["source"] in ("words", "model")
    assert by_address[symbols["copy_text.cold"]]["source"] == "cold"

