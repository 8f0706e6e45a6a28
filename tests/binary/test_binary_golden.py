"""Golden-file and cross-tool checks of the normaliser on the gcc-built sample program.

Set BINBRIDGE_UPDATE_GOLDEN=1 to rewrite the golden files after an intended
change of the normaliser; the goldens match gcc 12.2 (Debian) -O1 output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from binary_helpers import GOLDEN, SAMPLE_FUNCTIONS, SampleBuild, run_tool

from binbridge.binary import ExtractedFunction, iter_functions, read_only_strings

UPDATE = os.environ.get("BINBRIDGE_UPDATE_GOLDEN") == "1"


def functions_by_name(path) -> dict[str, ExtractedFunction]:
    return {function.name: function for function in iter_functions(path)}


def check_golden(variant: str, name: str, assembly: str) -> None:
    path = GOLDEN / variant / f"{name}.asm"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(assembly + "\n")
    if not path.exists():
        pytest.fail(f"missing golden file {path}; run with BINBRIDGE_UPDATE_GOLDEN=1 to create it")
    assert assembly + "\n" == path.read_text(), f"{variant}/{name} differs from {path}"


@pytest.mark.parametrize("name", SAMPLE_FUNCTIONS)
def test_object_matches_golden(sample: SampleBuild, name: str) -> None:
    functions = functions_by_name(sample.object)
    check_golden("object", name, functions[name].assembly)


@pytest.mark.parametrize("name", SAMPLE_FUNCTIONS)
def test_pie_matches_golden(sample: SampleBuild, name: str) -> None:
    functions = functions_by_name(sample.pie)
    check_golden("pie", name, functions[name].assembly)


def test_object_and_pie_read_alike(sample: SampleBuild) -> None:
    objects = functions_by_name(sample.object)
    linked = functions_by_name(sample.pie)
    for name in SAMPLE_FUNCTIONS:
        assert objects[name].assembly == linked[name].assembly, name


def test_nopie_object_and_executable_read_alike(sample: SampleBuild) -> None:
    objects = functions_by_name(sample.nopie_object)
    linked = functions_by_name(sample.nopie)
    for name in SAMPLE_FUNCTIONS:
        assert objects[name].assembly == linked[name].assembly, name
    assert 'mov edi, "world"' in linked["main"].assembly


def test_stripped_pie_matches_unstripped(sample: SampleBuild) -> None:
    unstripped = {function.address: function for function in iter_functions(sample.pie)}
    everything = list(iter_functions(sample.stripped_pie))
    stripped = [function for function in everything if function.name not in CRTSTUFF]
    assert {function.address for function in stripped} == set(unstripped)
    for function in stripped:
        if function.name == "_start":  # the entry point
            assert function.source == "runtime"
        else:
            assert function.source == "eh_frame"
            assert function.name is None
        assert function.size == unstripped[function.address].size
        assert function.assembly == unstripped[function.address].assembly, hex(function.address)


CRTSTUFF = {"deregister_tm_clones", "register_tm_clones", "__do_global_dtors_aux", "frame_dummy"}


def test_runtime_functions_match_readelf(sample: SampleBuild) -> None:
    """crtbegin's functions have size 0 in .symtab; the stripped file finds them where readelf puts them."""
    listing = run_tool("readelf", "-sW", sample.pie)
    expected = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 8 and fields[3] == "FUNC" and fields[7] in CRTSTUFF | {"_start"}:
            expected[fields[7]] = int(fields[1], 16)
    runtime = {function.name: function.address for function in iter_functions(sample.stripped_pie)
               if function.source == "runtime"}
    assert runtime == expected
    assert len(expected) == 5


def test_sizes_match_readelf(sample: SampleBuild) -> None:
    listing = run_tool("readelf", "-sW", sample.pie)
    expected = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 8 and fields[3] == "FUNC" and fields[6] != "UND" and int(fields[2], 0) > 0:
            expected[fields[7]] = (int(fields[1], 16), int(fields[2], 0))
    found = {function.name: (function.address, function.size) for function in iter_functions(sample.pie)}
    assert found == expected


def test_instruction_counts_match_objdump(sample: SampleBuild) -> None:
    if shutil.which("objdump") is None:
        pytest.skip("needs objdump")
    listing = run_tool("objdump", "-d", "--no-show-raw-insn", "-M", "intel", sample.pie)
    addresses: list[int] = []
    for line in listing.splitlines():
        instruction = re.match(r"^\s+([0-9a-f]+):\t", line)
        if instruction:
            addresses.append(int(instruction.group(1), 16))
    functions = list(iter_functions(sample.pie))
    assert functions
    for function in functions:
        inside = [a for a in addresses if function.address <= a < function.address + function.size]
        assert function.num_instructions == len(inside), function.name


def test_sample_rules_hold(sample: SampleBuild) -> None:
    functions = functions_by_name(sample.object)
    factorial = functions["factorial"].assembly
    assert "call FUNC" in factorial
    assert "factorial" not in factorial
    greet = functions["greet_user"].assembly
    for imported in ("<strlen>", "<malloc>", "<printf>", "<puts>", "<strcpy>"):
        assert f"call {imported}" in greet
    assert '"out of memory\\n\\tgiving up"' in greet
    assert '"hello, %s! you have a \\"very\\" long name o..."' in greet
    assert re.search(r"^je \.L\d+$", greet, re.MULTILINE)
    main = functions["main"].assembly
    assert "[rip + <stderr>]" in main
    assert not any(name in main for name in SAMPLE_FUNCTIONS if name != "main")
    assert "[rip + DATA]" in functions["scale_value"].assembly


def test_shared_object_hides_exported_names(sample: SampleBuild) -> None:
    functions = functions_by_name(sample.shared)
    main = functions["main"].assembly
    assert "call <printf>" in main
    assert "greet_user" not in main
    assert "call FUNC" in main


def test_max_instructions_limits_lines(sample: SampleBuild) -> None:
    full = functions_by_name(sample.pie)["main"]
    limited = next(f for f in iter_functions(sample.pie, max_instructions=5) if f.name == "main")
    assert limited.assembly.split("\n") == full.assembly.split("\n")[:5]
    assert limited.num_instructions == full.num_instructions


def test_without_assembly_lists_boundaries(sample: SampleBuild) -> None:
    listed = list(iter_functions(sample.pie, with_assembly=False))
    assert [f.name for f in listed] == [f.name for f in iter_functions(sample.pie)]
    assert all(f.assembly == "" and f.num_instructions == 0 for f in listed)


def strings_between_nuls(path: Path, tmp_path: Path) -> set[str]:
    """The strings that GNU strings finds in a file's .rodata (objcopy dump) that sit between two NULs.

    strings also lists printable runs inside binary tables; a run with a NUL on each side (or the
    section's start) is a C string.
    """
    dump = tmp_path / "rodata.bin"
    subprocess.run(["objcopy", "-O", "binary", "--only-section=.rodata", str(path), str(dump)], check=True)
    listing = run_tool("strings", "-a", "-n", "4", "-w", "-s", "<SEP>", dump)
    data = b"\0" + dump.read_bytes()
    return {text for text in listing.split("<SEP>") if text and b"\0" + text.encode() + b"\0" in data}


@pytest.mark.parametrize("path", ["sample", "/usr/lib/x86_64-linux-gnu/liblzma.so.5"])
def test_read_only_strings_match_gnu_strings(sample: SampleBuild, path: str, tmp_path: Path) -> None:
    """The read-only strings of the sample program and of a system library are those GNU strings finds."""
    binary = sample.stripped_pie if path == "sample" else Path(path)
    if not binary.exists():
        pytest.skip(f"{binary} is not installed")
    if shutil.which("objcopy") is None or shutil.which("strings") is None:
        pytest.skip("needs objcopy and strings")
    found = read_only_strings(binary)
    assert len(found) == len(set(found))
    assert {text for text in found if text.isascii()} == strings_between_nuls(binary, tmp_path)
    assert len(found) >= (3 if path == "sample" else 20)


def test_object_strings_keep_utf8(tmp_path: Path) -> None:
    """An object file's .rodata.str sections count, and a UTF-8 message is kept whole."""
    source = tmp_path / "messages.c"
    source.write_text('#include <stdio.h>\n'
                      'void report(int code) { printf("zorp_open: \u00e9chec %d\\n", code); puts("zorp_close"); }\n',
                      encoding="utf-8")
    subprocess.run(["gcc", "-O1", "-c", str(source), "-o", str(tmp_path / "messages.o")], check=True)
    found = read_only_strings(tmp_path / "messages.o")
    assert "zorp_open: \u00e9chec %d\n" in found
    assert "zorp_close" in found
