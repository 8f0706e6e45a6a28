"""Malformed and unsupported inputs: each must raise a BinaryFormatError or InputError, or be skipped, never hang."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from binary_helpers import SampleBuild, require_tools, run_tool, with_timeout

from binbridge.binary import (
    ArchiveFormatError,
    CorruptSectionError,
    NotELFError,
    TruncatedFileError,
    UnsupportedArchitectureError,
    describe_binary,
    find_function,
    iter_functions,
)
from binbridge.binary.elf import ElfFile
from binbridge.errors import BinbridgeError, ConfigError, InputError


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def eh_frame_location(path: Path) -> tuple[int, int]:
    elf = ElfFile(path.read_bytes(), str(path))
    section = elf.section(".eh_frame")
    return section.offset, section.size


def extract_all(path: Path) -> list:
    return with_timeout(20, lambda: list(iter_functions(path)))


def test_missing_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.o"
    with pytest.raises(InputError) as caught:
        iter_functions(missing)
    assert str(missing) in str(caught.value)
    assert "not found" in str(caught.value)


def test_directory_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        describe_binary(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a directory; pass an ELF file or .a archive"


def test_empty_file_is_not_elf(tmp_path: Path) -> None:
    with pytest.raises(NotELFError, match="empty"):
        iter_functions(write(tmp_path / "empty", b""))


def test_random_bytes_are_not_elf(tmp_path: Path) -> None:
    data = random.Random(7).randbytes(4096)
    with pytest.raises(NotELFError):
        iter_functions(write(tmp_path / "random.bin", data))


def test_text_file_is_not_elf(tmp_path: Path) -> None:
    with pytest.raises(NotELFError, match="not an ELF file"):
        describe_binary(write(tmp_path / "notes.txt", b"just some notes\n"))


def test_linker_script_is_named(tmp_path: Path) -> None:
    script = b"/* GNU ld script\n*/\nOUTPUT_FORMAT(elf64-x86-64)\nGROUP ( /usr/lib/libm-2.36.a /usr/lib/libmvec.a )\n"
    with pytest.raises(NotELFError) as caught:
        iter_functions(write(tmp_path / "libm.a", script))
    message = str(caught.value)
    assert "linker script" in message
    assert "/usr/lib/libm-2.36.a" in message


def test_system_libm_script_is_named() -> None:
    script = Path("/usr/lib/x86_64-linux-gnu/libm.a")
    if not script.exists() or script.stat().st_size > 4096:
        pytest.skip("libm.a is not a linker script on this system")
    with pytest.raises(NotELFError, match="linker script"):
        iter_functions(script)


def test_truncated_elf_header(sample: SampleBuild, tmp_path: Path) -> None:
    cut = write(tmp_path / "cut", sample.pie.read_bytes()[:40])
    with pytest.raises(TruncatedFileError):
        iter_functions(cut)


def test_truncated_section_table(sample: SampleBuild, tmp_path: Path) -> None:
    data = sample.pie.read_bytes()
    with pytest.raises(TruncatedFileError) as caught:
        iter_functions(write(tmp_path / "cut", data[:-100]))
    assert caught.value.offset is not None


def test_other_machine_is_unsupported(sample: SampleBuild, tmp_path: Path) -> None:
    data = bytearray(sample.object.read_bytes())
    struct.pack_into("<H", data, 18, 183)
    with pytest.raises(UnsupportedArchitectureError, match="AArch64"):
        iter_functions(write(tmp_path / "arm.o", bytes(data)))


def test_eh_frame_of_ff_bytes_raises(sample: SampleBuild, tmp_path: Path) -> None:
    data = bytearray(sample.stripped_pie.read_bytes())
    offset, size = eh_frame_location(sample.stripped_pie)
    data[offset:offset + size] = b"\xff" * size
    with pytest.raises(CorruptSectionError) as caught:
        extract_all(write(tmp_path / "ff", bytes(data)))
    assert caught.value.offset == offset


def test_eh_frame_length_past_end_raises(sample: SampleBuild, tmp_path: Path) -> None:
    data = bytearray(sample.stripped_pie.read_bytes())
    offset, size = eh_frame_location(sample.stripped_pie)
    struct.pack_into("<I", data, offset, size * 4)
    with pytest.raises(CorruptSectionError, match="leaves"):
        extract_all(write(tmp_path / "long", bytes(data)))


CRTSTUFF = {"deregister_tm_clones", "register_tm_clones", "__do_global_dtors_aux", "frame_dummy"}


def test_eh_frame_later_bad_length_keeps_earlier_entries(sample: SampleBuild, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    data = bytearray(sample.stripped_pie.read_bytes())
    offset, size = eh_frame_location(sample.stripped_pie)
    first_length = struct.unpack_from("<I", data, offset)[0]
    second = offset + 4 + first_length
    second_length = struct.unpack_from("<I", data, second)[0]
    third = second + 4 + second_length
    struct.pack_into("<I", data, third, 0x7FFFFFF0)
    functions = extract_all(write(tmp_path / "later", bytes(data)))
    # The first FDE is _start's; the start-up functions without an FDE come from the ELF headers.
    assert [f.name for f in functions if f.name not in CRTSTUFF] == ["_start"]
    assert "ignoring the rest of .eh_frame" in caplog.text


def test_eh_frame_zero_lengths_end_the_parse(sample: SampleBuild, tmp_path: Path) -> None:
    data = bytearray(sample.stripped_pie.read_bytes())
    offset, size = eh_frame_location(sample.stripped_pie)
    data[offset:offset + size] = bytes(size)
    functions = extract_all(write(tmp_path / "zero", bytes(data)))
    assert all(function.source == "runtime" for function in functions)


@pytest.mark.parametrize("seed", range(40))
def test_eh_frame_random_damage_never_hangs(sample: SampleBuild, tmp_path: Path, seed: int) -> None:
    generator = random.Random(seed)
    data = bytearray(sample.stripped_pie.read_bytes())
    offset, size = eh_frame_location(sample.stripped_pie)
    for _ in range(generator.randint(1, 30)):
        data[offset + generator.randrange(size)] = generator.randrange(256)
    try:
        extract_all(write(tmp_path / "damaged", bytes(data)))
    except BinbridgeError:
        pass


@pytest.mark.parametrize("seed", range(40))
def test_random_file_damage_raises_only_binbridge_errors(sample: SampleBuild, tmp_path: Path, seed: int) -> None:
    generator = random.Random(1000 + seed)
    source = sample.object if seed % 2 else sample.pie
    data = bytearray(source.read_bytes())
    for _ in range(generator.randint(1, 40)):
        data[generator.randrange(len(data))] = generator.randrange(256)
    try:
        extract_all(write(tmp_path / "damaged", bytes(data)))
    except BinbridgeError:
        pass


def test_thin_archive_is_rejected(sample: SampleBuild, tmp_path: Path) -> None:
    require_tools("ar")
    thin = tmp_path / "libthin.a"
    run_tool("ar", "rcT", thin, sample.object)
    with pytest.raises(ArchiveFormatError, match="thin archive"):
        iter_functions(thin)


def test_malformed_archive_header(tmp_path: Path) -> None:
    data = b"!<arch>\n" + b"member.o/       0           0     0     644     99999x    `\n"
    with pytest.raises(ArchiveFormatError, match="not a decimal number"):
        list(iter_functions(write(tmp_path / "bad.a", data)))


def test_find_function_reports_missing_address(sample: SampleBuild) -> None:
    with pytest.raises(InputError, match="0x5"):
        find_function(sample.pie, 0x5)


def test_find_function_rejects_archives(sample: SampleBuild, tmp_path: Path) -> None:
    require_tools("ar")
    archive = tmp_path / "libone.a"
    run_tool("ar", "rcs", archive, sample.object)
    with pytest.raises(InputError, match="archive"):
        find_function(archive, 0)


def test_invalid_max_instructions(sample: SampleBuild) -> None:
    with pytest.raises(ConfigError):
        iter_functions(sample.pie, max_instructions=0)


def test_object_stripped_of_locals_keeps_fde_functions(sample: SampleBuild, tmp_path: Path) -> None:
    stripped = tmp_path / "sample_x.o"
    run_tool("strip", "-x", "-o", stripped, sample.object)
    named = {f.name for f in iter_functions(sample.object)}
    functions = list(iter_functions(stripped))
    assert len(functions) >= len([name for name in named if not name.endswith(".cold")])
    assert "main" in {f.name for f in functions}


def test_fully_stripped_object_is_rejected(sample: SampleBuild, tmp_path: Path) -> None:
    stripped = tmp_path / "sample_all.o"
    run_tool("strip", "-o", stripped, sample.object)
    with pytest.raises(BinbridgeError) as caught:
        list(iter_functions(stripped))
    assert str(stripped) in str(caught.value)
    assert "stripped of its symbols and relocations" in str(caught.value)


def test_archive_without_elf_member_is_rejected(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.a", b"!<arch>\n")
    with pytest.raises(BinbridgeError) as caught:
        iter_functions(empty)
    assert str(empty) in str(caught.value)
    assert "no ELF object file" in str(caught.value)
