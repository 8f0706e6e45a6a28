"""A stripped system executable: /usr/bin/ls as shipped by the distribution."""

from __future__ import annotations

from pathlib import Path

import pytest

from binbridge.binary import describe_binary, find_function, iter_functions
from binbridge.binary.elf import ElfFile

LS = Path("/usr/bin/ls")


@pytest.fixture(scope="module")
def ls_functions() -> list:
    if not LS.exists() or not describe_binary(LS).stripped:
        pytest.skip("needs a stripped x86-64 /usr/bin/ls")
    return list(iter_functions(LS))


def test_ls_is_stripped_executable() -> None:
    if not LS.exists():
        pytest.skip("needs /usr/bin/ls")
    info = describe_binary(LS)
    assert info.kind == "executable"
    assert len(info.sha256) == 64


def test_ls_functions_come_from_eh_frame(ls_functions: list) -> None:
    assert 200 <= len(ls_functions) <= 2000
    assert {function.source for function in ls_functions} <= {"eh_frame", "dynsym", "runtime"}
    assert sum(function.source == "eh_frame" for function in ls_functions) > 200
    addresses = [function.address for function in ls_functions]
    assert addresses == sorted(addresses)


def test_ls_has_no_plt_functions(ls_functions: list) -> None:
    elf = ElfFile(LS.read_bytes(), str(LS))
    stubs = [s for s in elf.sections if s.name.startswith(".plt") or s.name in (".init", ".fini")]
    assert stubs
    for function in ls_functions:
        assert function.section == ".text"
        for stub in stubs:
            assert not stub.address <= function.address < stub.address + stub.size


def test_ls_calls_show_imports(ls_functions: list) -> None:
    text = "\n".join(function.assembly for function in ls_functions)
    assert "call <strcmp>" in text
    assert "call <__errno_location>" in text
    assert "call <malloc>" in text


def test_ls_strings_are_quoted(ls_functions: list) -> None:
    text = "\n".join(function.assembly for function in ls_functions)
    assert '"--' in text
    assert '[rip + "' in text


def test_find_function_in_ls(ls_functions: list) -> None:
    chosen = ls_functions[len(ls_functions) // 2]
    found = find_function(LS, chosen.address + chosen.size - 1)
    assert found == chosen
