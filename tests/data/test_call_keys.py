"""Call keys: wrappers too short to sign are named from their code and the names of what they call."""

from __future__ import annotations

import json
import subprocess

import pytest

from binbridge.binary import iter_functions
from binbridge.binary.records import OutsideBranch
from binbridge.data.call_keys import (
    COLD_CALLEE,
    SELF_CALLEE,
    UNKNOWN_CALLEE,
    corpus_callee,
    func_branch_count,
    internal_targets,
    lookup_callee,
)
from binbridge.data.signatures import (
    CALLS_CONFIDENCE,
    NamedCode,
    SignatureIndex,
    function_call_key,
    load_signatures,
    row_code,
)
from tests.cli.cli_helpers import run_cli

WRAPPER = "mov edx, 1\nxor esi, esi\njmp FUNC"


def wrapper_copies(name: str, callee: str, projects: int) -> list[NamedCode]:
    return [NamedCode(name, WRAPPER, f"p{k}:0x10", f"project{k}", (callee,)) for k in range(projects)]


def test_callee_names_from_a_symbol_table():
    names = {0x100: "walk", 0x200: "walk.cold", 0x300: "emit.isra.0", 0x400: "other.cold"}
    assert corpus_callee(0x100, "walk", 0x100, names) == SELF_CALLEE
    assert corpus_callee(0x100, "walk", 0x200, names) == COLD_CALLEE
    assert corpus_callee(0x100, "walk", 0x300, names) == "emit"
    assert corpus_callee(0x100, "walk", 0x400, names) == UNKNOWN_CALLEE  # another function's cold part
    assert corpus_callee(0x100, "walk", 0x500, names) == UNKNOWN_CALLEE


def test_callee_names_in_a_stripped_binary():
    known = {0x300: "emit.part.0"}.get
    parents = {0x200: 0x100}.get
    assert lookup_callee(0x100, 0x100, known, parents) == SELF_CALLEE
    assert lookup_callee(0x100, 0x200, known, parents) == COLD_CALLEE
    assert lookup_callee(0x100, 0x300, known, parents) == "emit"
    assert lookup_callee(0x100, 0x500, known, parents) == UNKNOWN_CALLEE


def test_func_branches_pair_with_internal_targets():
    assembly = "call <malloc>\ntest rax, rax\nje FUNC\nlea rdi, [rip + FUNC]\nbnd jmp FUNC\ncall FUNC"
    assert func_branch_count(assembly) == 3
    branches = (OutsideBranch(0x10, "call", internal=False), OutsideBranch(0x20, "jcc"),
                OutsideBranch(0x30, "jmp"), OutsideBranch(0x40, "call"))
    assert internal_targets(branches) == [0x20, 0x30, 0x40]


def test_wrapper_signed_when_projects_agree():
    index = SignatureIndex.build(wrapper_copies("quote", "quote_n", 1))
    assert len(index.calls) == 1
    assert index.lookup(WRAPPER) is None  # too short for the code-only keys
    key = function_call_key(WRAPPER, ("quote_n",))
    assert index.calls[key] == "quote"
    other = function_call_key(WRAPPER, ("quote_mem",))
    assert other != key
    assert other not in index.calls


def test_wrapper_needs_two_thirds_of_projects():
    votes = wrapper_copies("quote", "quote_n", 1) + [NamedCode("show", WRAPPER, "q:0x10", "other", ("quote_n",))]
    assert not SignatureIndex.build(votes).calls
    votes.append(NamedCode("quote", WRAPPER, "r:0x10", "third", ("quote_n",)))
    assert set(SignatureIndex.build(votes).calls.values()) == {"quote"}


def test_siblings_get_plainest_name():
    """quotearg_n and quote_n: same code, same callee, two functions of one program; one vote."""
    siblings = [NamedCode("quotearg_n", WRAPPER, "prog:0x20", "prog", ("quotearg_n_options",)),
                NamedCode("quote_n", WRAPPER, "prog:0x10", "prog", ("quotearg_n_options",))]
    assert set(SignatureIndex.build(siblings).calls.values()) == {"quote_n"}


def test_self_and_cold_alone_give_no_key():
    assert function_call_key(WRAPPER, (SELF_CALLEE,)) is None
    assert function_call_key(WRAPPER, (COLD_CALLEE,)) is None


def test_invalid_names_skipped():
    bad = [NamedCode("lib\x01wrap", WRAPPER, f"p{k}:0x10", f"p{k}", ("quote_n",)) for k in range(3)]
    index = SignatureIndex.build(bad)
    assert not index.calls


def test_callee_clone_suffixes_are_dropped():
    code = row_code("quote", "", WRAPPER, "a", "0x10", 0, "p", "quote_n.part.0")
    assert code.callees == ("quote_n",)


def test_unknown_callee_gives_no_key():
    assert function_call_key(WRAPPER, (UNKNOWN_CALLEE,)) is None
    assert function_call_key(WRAPPER, ()) is None
    assert function_call_key("jmp FUNC", ("target",)) is None  # an alias: one instruction


def test_callees_cell_matches_branches():
    good = row_code("quote", "", WRAPPER, "a", "0x10", 0, "p", "quote_n")
    assert good.callees == ("quote_n",)
    wrong = row_code("quote", "", WRAPPER, "a", "0x10", 0, "p", "quote_n extra")
    assert wrong.callees == ()


def test_calls_table_round_trip_and_merge(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(SignatureIndex.build(wrapper_copies("quote", "quote_n", 3)).to_json())
    second.write_text(SignatureIndex.build(wrapper_copies("quote_alt", "quote_n", 3)).to_json())
    assert SignatureIndex.load(first).calls == SignatureIndex.build(wrapper_copies("quote", "quote_n", 3)).calls
    assert not load_signatures([first, second]).calls  # the two files disagree
    assert load_signatures([first, first]).calls


LIBRARY = r"""
__attribute__((noinline)) long table_lookup(const long *table, long key, long start, long step) {
    long best = -1;
    for (long i = start; i < 64; i += step) {
        if (table[i] == key) return i;
        if (table[i] > key && (best < 0 || table[i] < table[best])) best = i;
    }
    return best * MULTIPLIER + key % 13;
}
__attribute__((noinline)) long table_find(const long *table, long key) { return table_lookup(table, key, 0, 1); }
__attribute__((noinline)) long table_find_next(const long *table, long key) { return table_find(table, key + 1); }
"""

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
long table_find_next(const long *table, long key);
int main(int argc, char **argv) {
    long table[64];
    for (int i = 0; i < 64; i++) table[i] = rand() % 100;
    printf("%s %ld\n", "VARIANT", table_find_next(table, argc > 1 ? atol(argv[1]) : 5));
    return 0;
}
"""


@pytest.fixture(scope="module")
def programs(tmp_path_factory, gcc):
    """PIEs that link the same library code, program3 also stripped; program_other's table_lookup differs."""
    root = tmp_path_factory.mktemp("call_keys")
    (root / "table.c").write_text(LIBRARY)
    for name, multiplier in [("program0", 7), ("program1", 7), ("program2", 7), ("program3", 7), ("program_other", 11)]:
        (root / f"{name}.c").write_text(PROGRAM.replace("VARIANT", name))
        subprocess.run([gcc, "-O2", "-fPIE", "-pie", "-fno-ipa-icf", f"-DMULTIPLIER={multiplier}", "-o", name,
                        f"{name}.c", "table.c"], cwd=root, check=True, capture_output=True)
    subprocess.run(["strip", "-o", "program3_stripped", "program3"], cwd=root, check=True)
    return root


def _name_with(programs, tmp_path, *signed: str) -> dict:
    """Sign the unstripped programs ``signed``, name program3_stripped, and map true names to results."""
    signatures = tmp_path / "table.json"
    built = run_cli("signatures", *(str(programs / name) for name in signed), "-o", str(signatures))
    assert built.returncode == 0, built.stderr
    named = run_cli("name", str(programs / "program3_stripped"), "--signatures", str(signatures),
                    "--no_signatures", "--format", "json", "--no_progress")
    assert named.returncode == 0, named.stderr
    truth = {f.address: f.name for f in iter_functions(programs / "program3") if f.name}
    return {truth.get(int(f["address"], 16)): (f["name"], f["source"], f["confidence"])
            for f in json.loads(named.stdout)["functions"]}


def test_wrapper_chain_named_when_stripped(programs, tmp_path):
    found = _name_with(programs, tmp_path, "program0", "program1")
    assert found["table_lookup"] == ("table_lookup", "signature", 0.95)
    assert found["table_find"] == ("table_find", "signature", CALLS_CONFIDENCE)
    assert found["table_find_next"] == ("table_find_next", "signature", CALLS_CONFIDENCE)


def test_unknown_callee_wrappers_unnamed(programs, tmp_path):
    """program_other's wrappers have the same code, but its table_lookup does not match program3's."""
    found = _name_with(programs, tmp_path, "program_other")
    assert found["table_lookup"][1] in ("words", "model")
    assert found["table_find"][1] in ("words", "model")
    assert found["table_find_next"][1] in ("words", "model")
