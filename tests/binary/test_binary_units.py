"""Unit checks of the .eh_frame parser, the disassembly helpers and describe_binary."""

from __future__ import annotations

import hashlib
import struct

import pytest
from binary_helpers import SampleBuild, run_tool

from binbridge.binary import CorruptSectionError, describe_binary, find_function, iter_functions
from binbridge.binary.eh_frame import parse_eh_frame
from binbridge.binary.normalize import disassemble, strip_padding
from binbridge.binary.space import quote_string

SECTION_ADDRESS = 0x2000


def cie(augmentation: bytes = b"zR", encoding: int = 0x1B) -> bytes:
    body = struct.pack("<I", 0) + b"\x01" + augmentation + b"\x00" + b"\x01\x78\x10"
    body += (b"\x01" + bytes([encoding])) if augmentation == b"zR" else b""
    body += b"\x00" * (-(len(body) + 4) % 8)
    return struct.pack("<I", len(body)) + body


def fde(position: int, cie_position: int, pc_begin: int, pc_range: int) -> bytes:
    """An FDE at a section offset, with pc-relative sdata4 pc_begin."""
    field = position + 8
    body = struct.pack("<I", position + 4 - cie_position)
    body += struct.pack("<iI", pc_begin - (SECTION_ADDRESS + field), pc_range) + b"\x00"
    body += b"\x00" * (-(len(body) + 4) % 4)
    return struct.pack("<I", len(body)) + body


def test_eh_frame_decodes_pcrel_sdata4() -> None:
    data = cie()
    data += fde(len(data), 0, 0x1139, 0x20)
    data += fde(len(data), 0, 0x1159, 0x44)
    descriptions = parse_eh_frame(data, SECTION_ADDRESS, "test")
    assert [(d.pc_begin, d.pc_range) for d in descriptions] == [(0x1139, 0x20), (0x1159, 0x44)]


def test_eh_frame_stops_at_terminator() -> None:
    data = cie()
    data += fde(len(data), 0, 0x1139, 0x20) + b"\x00" * 4
    data += fde(len(data), 0, 0x1159, 0x44)
    assert len(parse_eh_frame(data, SECTION_ADDRESS, "test")) == 1


def test_eh_frame_skips_fde_with_bad_cie_pointer(caplog: pytest.LogCaptureFixture) -> None:
    data = cie()
    data += fde(len(data), 3, 0x1139, 0x20)
    data += fde(len(data), 0, 0x1159, 0x44)
    descriptions = parse_eh_frame(data, SECTION_ADDRESS, "test")
    assert [d.pc_begin for d in descriptions] == [0x1159]
    assert "skipped 1 malformed" in caplog.text


def test_eh_frame_absolute_encoding() -> None:
    data = cie(encoding=0x00)
    position = len(data)
    body = struct.pack("<I", position + 4) + struct.pack("<QQ", 0x401000, 0x30) + b"\x00" * 4
    data += struct.pack("<I", len(body)) + body
    descriptions = parse_eh_frame(data, SECTION_ADDRESS, "test")
    assert [(d.pc_begin, d.pc_range) for d in descriptions] == [(0x401000, 0x30)]


def test_eh_frame_broken_first_entry_raises() -> None:
    with pytest.raises(CorruptSectionError, match="leaves"):
        parse_eh_frame(struct.pack("<I", 0x1000) + b"\x00" * 16, SECTION_ADDRESS, "test")


def test_eh_frame_unknown_augmentation_skips_its_fdes() -> None:
    data = cie(augmentation=b"xyz")
    data += fde(len(data), 0, 0x1139, 0x20)
    assert parse_eh_frame(data, SECTION_ADDRESS, "test") == []


def test_disassemble_marks_bad_bytes() -> None:
    instructions = disassemble(bytes.fromhex("55 06 c3"), 0x1000)
    assert [i[2] for i in instructions] == ["push", "(bad)", "ret"]
    assert [i[0] for i in instructions] == [0x1000, 0x1001, 0x1002]


def test_strip_padding_keeps_body() -> None:
    instructions = disassemble(bytes.fromhex("c3 90 cc 0f 1f 00"), 0)
    assert [i[2] for i in strip_padding(instructions)] == ["ret"]
    assert [i[2] for i in strip_padding(disassemble(b"\x90\x90", 0))] == ["nop"]


def test_quote_string_escapes_and_truncates() -> None:
    assert quote_string('say "hi"\n\t\\') == '"say \\"hi\\"\\n\\t\\\\"'
    assert quote_string("x" * 41) == '"' + "x" * 40 + '..."'
    assert quote_string("x" * 40) == '"' + "x" * 40 + '"'


def test_describe_kinds(sample: SampleBuild) -> None:
    cases = {
        sample.object: ("relocatable", False),
        sample.pie: ("executable", False),
        sample.stripped_pie: ("executable", True),
        sample.nopie: ("executable", False),
        sample.shared: ("shared_object", False),
    }
    for path, (kind, stripped) in cases.items():
        info = describe_binary(path)
        assert (info.kind, info.stripped) == (kind, stripped), path
        assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert info.path == str(path)


def test_find_function_by_inner_address(sample: SampleBuild) -> None:
    greet = next(function for function in iter_functions(sample.pie) if function.name == "greet_user")
    found = find_function(sample.pie, greet.address + 5)
    assert found == greet
    found_stripped = find_function(sample.stripped_pie, greet.address)
    assert found_stripped.assembly == greet.assembly
    assert found_stripped.name is None


def test_extracted_fields(sample: SampleBuild) -> None:
    function = next(function for function in iter_functions(sample.object) if function.name == "factorial")
    assert function.arch == "x86_64"
    assert function.section == ".text"
    assert function.binary == str(sample.object)
    assert function.num_instructions == len(function.assembly.split("\n"))


RUNTIME_NAMES = {"_start", "deregister_tm_clones", "register_tm_clones", "__do_global_dtors_aux", "frame_dummy"}


def test_stripped_shared_object_names_exports(sample: SampleBuild) -> None:
    stripped = sample.directory / "libsample-stripped.so"
    run_tool("strip", "-o", stripped, sample.shared)
    unstripped = {function.address: function for function in iter_functions(sample.shared)}
    functions = list(iter_functions(stripped))
    named = {function.name: function for function in functions if function.name is not None}
    assert {"factorial", "greet_user", "classify", "main"} <= set(named)
    assert {named[name].source for name in named if name not in RUNTIME_NAMES} == {"dynsym"}
    assert {named[name].source for name in named if name in RUNTIME_NAMES} <= {"runtime"}
    static_helper = next(f for f in unstripped.values() if f.name == "scale_value")
    by_address = {function.address: function for function in functions}
    assert by_address[static_helper.address].name is None
    assert by_address[static_helper.address].source == "eh_frame"
    for address, function in by_address.items():
        if function.source != "runtime":  # crtbegin's functions have size-0 symbols, so no unstripped twin
            assert function.assembly == unstripped[address].assembly
