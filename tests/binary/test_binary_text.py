"""normalize_assembly_text on objdump, gdb-style and gcc -S text, compared with the binary normaliser."""

from __future__ import annotations

import re
import shutil

import pytest
from binary_helpers import SAMPLE_FUNCTIONS, SAMPLE_SOURCE, SampleBuild, run_tool

from binbridge.binary import iter_functions, normalize_assembly_text
from binbridge.errors import InputError

QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def objdump_function(path, name: str, *options: str) -> str:
    if shutil.which("objdump") is None:
        pytest.skip("needs objdump")
    listing = run_tool("objdump", "-d", *options, path)
    match = re.search(rf"^[0-9a-f]+ <{name}>:\n(.*?)(?:\n\n|\Z)", listing, re.MULTILINE | re.DOTALL)
    assert match, f"objdump did not list {name}"
    return match.group(0)


def without_strings(assembly: str) -> str:
    """Replace quoted strings by DATA, since pasted text has no .rodata to read them from."""
    return QUOTED.sub("DATA", assembly)


@pytest.mark.parametrize("options", [("-M", "intel"), (), ("--no-show-raw-insn", "-M", "intel")])
def test_objdump_text_matches_binary(sample: SampleBuild, options: tuple[str, ...]) -> None:
    functions = {function.name: function for function in iter_functions(sample.pie)}
    for name in SAMPLE_FUNCTIONS:
        text = objdump_function(sample.pie, name, *options)
        assert normalize_assembly_text(text) == without_strings(functions[name].assembly), name


def test_objdump_relocations_of_object(sample: SampleBuild) -> None:
    functions = {function.name: function for function in iter_functions(sample.object)}
    text = objdump_function(sample.object, "greet_user", "-r", "-M", "intel")
    assert normalize_assembly_text(text) == without_strings(functions["greet_user"].assembly)


def test_gcc_assembly_matches_binary(sample: SampleBuild) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    assembly = run_tool("gcc", "-O1", "-S", "-masm=intel", "-o", "-", SAMPLE_SOURCE)
    expected = "\n".join(function.assembly for function in iter_functions(sample.object))
    assert normalize_assembly_text(assembly) == expected


def test_plain_lines_are_respaced() -> None:
    text = """
    Dump of assembler code for function demo:
       0x0000000000001139 <+0>:\tpush   rbp
       0x000000000000113a <+1>:\tmov    DWORD PTR [rbp-0x14],edi
       0x000000000000113d <+4>:\tmov    rax,QWORD PTR fs:0x28
       0x0000000000001146 <+13>:\tnop    WORD PTR cs:[rax+rax*1+0x0]
       0x0000000000001150 <+23>:\tje     0x1139 <demo>
       0x0000000000001152 <+25>:\tcall   0x1030 <puts@plt>
       0x0000000000001157 <+30>:\tmov    rcx,QWORD PTR [rip+0x2d29]        # 0x4060 <stderr@GLIBC_2.2.5>
       0x000000000000115e <+37>:\tcall   0x1200 <helper>
    End of assembler dump.
    """
    assert normalize_assembly_text(text).split("\n") == [
        "push rbp",
        "mov dword ptr [rbp - 0x14], edi",
        "mov rax, qword ptr fs:[0x28]",
        "nop word ptr cs:[rax + rax]",
        "je .L0",
        "call <puts>",
        "mov rcx, qword ptr [rip + <stderr>]",
        "call FUNC",
    ]


def test_labels_are_relative_to_each_function() -> None:
    text = "first:\n  jmp .L2\n.L2:\n  ret\nsecond:\n  nop\n  jne .L5\n.L5:\n  ret\n"
    assert normalize_assembly_text(text).split("\n") == ["jmp .L1", "ret", "nop", "jne .L2", "ret"]


def test_empty_text_gives_empty_result() -> None:
    assert normalize_assembly_text("") == ""
    assert normalize_assembly_text("\n\n   \n") == ""


@pytest.mark.parametrize("kind", ["object", "stripped_pie"])
def test_normalised_assembly_pasted_back_is_unchanged(sample: SampleBuild, kind: str) -> None:
    # A dataset's assembly column pasted into `infer --interactive` must name the same function.
    functions = list(iter_functions(getattr(sample, kind)))
    assert functions
    for function in functions:
        assert normalize_assembly_text(function.assembly) == function.assembly, function.address


def test_own_tokens_are_kept() -> None:
    text = "\n".join(["mov rax, qword ptr [rip + DATA]", "mov rbx, qword ptr [rip + <stdout>]", "je .L3",
                      'lea rdi, [rip + "usage: %s"]', 'lea rsi, [rip + "  -a, --all  # x; y"]', "call FUNC",
                      "call <puts>", "ret"])
    assert normalize_assembly_text(text) == text


def test_listing_padding_is_dropped() -> None:
    """objdump --no-show-raw-insn lists the padding up to the next symbol; extraction stops before it."""
    listing = ("0000000000001690 <fib>:\n    1690:\ttest   edi,edi\n    1692:\tret\n"
               "    1693:\tcs nop WORD PTR cs:[rax+rax*1+0x0]\n    169e:\txchg   ax,ax\n")
    assert normalize_assembly_text(listing) == "test edi, edi\nret"


def test_segment_prefix_word_is_dropped() -> None:
    listing = "0000000000001690 <pad>:\n    1690:\tcs nop WORD PTR cs:[rax+rax*1+0x0]\n    169b:\tret\n"
    assert normalize_assembly_text(listing) == "nop word ptr cs:[rax + rax]\nret"


def test_att_text_without_bytes_is_rejected() -> None:
    with pytest.raises(InputError, match="AT&T syntax"):
        normalize_assembly_text("push %rbp\nmov %rsp,%rbp\npop %rbp\nret")


def test_format_string_is_not_att() -> None:
    assert normalize_assembly_text('lea rdi, .LC0[rip]\n.LC0:\n.string "%s: %d"\nret') == 'lea rdi, [rip + "%s: %d"]\nret'
