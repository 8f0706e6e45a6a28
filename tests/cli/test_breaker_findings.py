"""Defects found by hand-testing the CLI with hostile input.

Every test here failed when it was written. Each one states what the CLI should
do: exit 0 with correct output, or exit 2 with one line on stderr and no
traceback and no partial output.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from cli_helpers import SAMPLE_PROGRAM, assert_clean_failure, run_cli

REQUIRED = ["function_name", "assembly", "binary", "address", "size", "arch", "project", "opt_level"]
ASSEMBLY = "push rbp\nmov rbp, rsp\nmov eax, dword ptr [rdi + 8]\nadd eax, 1\npop rbp\nret"


def write_dataset(path, rows, *, prefix: bytes = b"") -> None:
    """Write a dataset CSV with the required columns from (function_name, project, assembly) tuples."""
    lines = [REQUIRED]
    for index, (name, project, assembly) in enumerate(rows):
        lines.append([name, assembly, "prog", f"0x{index * 16:x}", "16", "x86_64", project, "O2"])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(lines)
    if prefix:
        path.write_bytes(prefix + path.read_bytes())


def three_project_rows():
    return [(f"func_{project}_{i}", project, f"{ASSEMBLY}\nmov ecx, {i}\nmov edx, {ord(project)}")
            for project in "abc" for i in range(4)]


@pytest.fixture(scope="module")
def sample_object(tmp_path_factory, gcc):
    root = tmp_path_factory.mktemp("breaker")
    source = root / "sample.c"
    source.write_text(SAMPLE_PROGRAM)
    subprocess.run([gcc, "-O1", "-c", str(source), "-o", str(root / "sample.o")], check=True)
    subprocess.run([gcc, "-O1", "-fno-inline", str(source), "-o", str(root / "sample")], check=True)
    return root


def leftovers(folder, name: str) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(f".{name}")]


# ---- output paths ---------------------------------------------------------------------------------

def test_extract_output_name_too_long(sample_object, tmp_path):
    output = tmp_path / ("x" * 300 + ".csv")
    result = run_cli("extract", str(sample_object / "sample.o"), "-o", str(output), "--no_progress")
    assert_clean_failure(result)


def test_extract_output_keeps_umask_permissions(sample_object, tmp_path):
    output = tmp_path / "out.csv"
    result = run_cli("extract", str(sample_object / "sample.o"), "-o", str(output), "--no_progress")
    assert result.returncode == 0, result.stderr
    umask = os.umask(0)
    os.umask(umask)
    mode = stat.S_IMODE(output.stat().st_mode)
    assert mode == 0o666 & ~umask, f"output mode {mode:o}; a plain open() would give {0o666 & ~umask:o}"


def test_extract_output_into_fifo_writes_through(sample_object, tmp_path):
    # Writing to a FIFO, /dev/stdout or /dev/null must write into it, not rename a temp file over it:
    # as root that rename replaces the device node itself.
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        result = run_cli("extract", str(sample_object / "sample.o"), "-o", str(fifo), "--no_progress", timeout=60)
        received = b""
        try:
            received = os.read(reader, 1 << 16)
        except BlockingIOError:
            pass
    finally:
        os.close(reader)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert received.startswith(b"function_name,"), received[:80]


# ---- unusual inputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["extract", "name"])
def test_fifo_input_is_rejected(tmp_path, command):
    fifo = tmp_path / "input.fifo"
    os.mkfifo(fifo)
    args = ["extract", str(fifo), "-o", str(tmp_path / "out.csv")] if command == "extract" else ["name", str(fifo)]
    result = run_cli(*args, timeout=10)
    assert_clean_failure(result, str(fifo))


def test_extract_non_utf8_file_name(sample_object, tmp_path):
    # os.fsencode turns the lone surrogate back into the byte 0xff.
    odd = tmp_path / "bad\udcffname.o"
    shutil.copy(sample_object / "sample.o", odd)
    output = tmp_path / "out.csv"
    result = run_cli("extract", str(odd), "-o", str(output), "--no_progress")
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 2), result.stderr
    assert not leftovers(tmp_path, "out.csv")


def test_extract_archive_of_i386_objects(tmp_path, gcc):
    source = tmp_path / "f.c"
    source.write_text("int triple(int x) { return 3 * x; }\n")
    member = tmp_path / "f32.o"
    if subprocess.run([gcc, "-m32", "-ffreestanding", "-c", str(source), "-o", str(member)]).returncode != 0:
        pytest.skip("gcc cannot build i386 objects here")
    archive = tmp_path / "lib32.a"
    subprocess.run(["ar", "rcs", str(archive), str(member)], check=True)
    output = tmp_path / "out.csv"
    result = run_cli("extract", str(archive), "-o", str(output), "--no_progress")
    assert_clean_failure(result, str(archive), "member f32.o")
    assert not output.exists()


def test_extract_partial_symtab_keeps_fde_functions(sample_object, tmp_path):
    # strip -K main leaves a .symtab with one function, but the other four still have FDEs.
    partial = tmp_path / "sample.keepmain"
    subprocess.run(["strip", "-K", "main", "-o", str(partial), str(sample_object / "sample")], check=True)
    output = tmp_path / "out.csv"
    result = run_cli("extract", str(partial), "-o", str(output), "--keep_unnamed", "--no_progress")
    assert result.returncode == 0, result.stderr
    with output.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert "main" in {r["function_name"] for r in rows}
    assert len(rows) >= 5, [(r["function_name"], r["address"]) for r in rows]


def test_name_archive_reports_each_member(tmp_path, gcc):
    objects = []
    for stem, body in (("one", "int one(int x) { return x + 1; }"), ("two", "int two(int x) { return x * 2; }")):
        source = tmp_path / f"{stem}.c"
        source.write_text(body + "\n")
        objects.append(tmp_path / f"{stem}.o")
        subprocess.run([gcc, "-O1", "-c", str(source), "-o", str(objects[-1])], check=True)
    archive = tmp_path / "libpair.a"
    subprocess.run(["ar", "rcs", str(archive), *map(str, objects)], check=True)
    result = run_cli("name", str(archive), "--format", "json", "--model_path", str(tmp_path / "no-model"))
    assert result.returncode == 0, result.stderr
    functions = json.loads(result.stdout)["functions"]
    assert [(f["member"], f["address"], f["name"]) for f in functions] == [("one.o", "0x0", "one"),
                                                                           ("two.o", "0x0", "two")]
    table = run_cli("name", str(archive), "--model_path", str(tmp_path / "no-model"))
    assert table.stdout.splitlines()[0].split()[:2] == ["member", "address"]


def test_name_archive_with_repeated_member(tmp_path, gcc):
    source = tmp_path / "one.c"
    source.write_text("int one(int x) { return x + 1; }\n")
    member = tmp_path / "one.o"
    subprocess.run([gcc, "-O1", "-c", str(source), "-o", str(member)], check=True)
    archive = tmp_path / "libtwice.a"
    subprocess.run(["ar", "q", str(archive), str(member), str(member)], check=True, capture_output=True)
    result = run_cli("name", str(archive), "--format", "json", "--model_path", str(tmp_path / "no-model"))
    assert result.returncode == 0, result.stderr
    members = [f["member"] for f in json.loads(result.stdout)["functions"]]
    assert members == ["one.o", "one.o#2"]


def test_name_symbol_without_name(sample_object, tmp_path):
    from elftools.elf.elffile import ELFFile

    binary = tmp_path / "sample.noname"
    data = bytearray((sample_object / "sample").read_bytes())
    with open(sample_object / "sample", "rb") as handle:
        table = ELFFile(handle).get_section_by_name(".symtab")
        index = next(i for i, symbol in enumerate(table.iter_symbols()) if symbol.name == "print_usage")
        offset = table["sh_offset"] + index * table["sh_entsize"]
    data[offset:offset + 4] = b"\0\0\0\0"  # st_name = 0: a function symbol with an empty name
    binary.write_bytes(bytes(data))
    result = run_cli("name", str(binary), "--format", "json", "--model_path", str(tmp_path / "no-model"))
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 2), result.stderr


# ---- dataset CSVs ---------------------------------------------------------------------------------

def test_split_accepts_utf8_bom(tmp_path):
    data = tmp_path / "bom.csv"
    write_dataset(data, three_project_rows(), prefix=b"\xef\xbb\xbf")
    result = run_cli("split", str(data), "--eval_projects", "a", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr


def test_split_non_utf8_after_first_block(tmp_path):
    data = tmp_path / "late.csv"
    rows = three_project_rows() + [(f"pad_{i}", "c", ASSEMBLY * 10) for i in range(100)]
    write_dataset(data, rows)
    raw = data.read_bytes()
    position = raw.rfind(b"push")
    data.write_bytes(raw[:position] + b"pu\xffsh" + raw[position + 4:])
    assert position > 16384
    result = run_cli("split", str(data), "--eval_projects", "a", "-o", str(tmp_path / "out"))
    assert_clean_failure(result, str(data), "UTF-8")


def test_split_output_dir_is_a_file(tmp_path):
    data = tmp_path / "data.csv"
    write_dataset(data, three_project_rows())
    target = tmp_path / "taken"
    target.write_text("a file, not a folder\n")
    result = run_cli("split", str(data), "--eval_projects", "a", "-o", str(target))
    assert_clean_failure(result, str(target))


@pytest.mark.parametrize("fraction", ["-0.5", "1.5", "nan"])
def test_split_rejects_eval_fraction_out_of_range(tmp_path, fraction):
    data = tmp_path / "data.csv"
    write_dataset(data, three_project_rows())
    out = tmp_path / "out"
    result = run_cli("split", str(data), "--eval_fraction", fraction, "-o", str(out))
    assert result.returncode == 2, result.stderr
    assert "eval_fraction" in result.stderr
    assert not out.exists()


def test_split_rejects_project_in_eval_and_test(tmp_path):
    data = tmp_path / "data.csv"
    write_dataset(data, three_project_rows())
    out = tmp_path / "out"
    result = run_cli("split", str(data), "--eval_projects", "a", "--test_projects", "a", "-o", str(out))
    assert_clean_failure(result, "a")
    assert not (out / "eval.csv").exists()


def test_eval_accepts_large_assembly_cell(tmp_path):
    # binbridge infer copies the assembly column through, and large functions exceed csv's 128 KiB field limit.
    predictions = tmp_path / "predictions.csv"
    with predictions.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["function_name", "assembly", "predicted_name"])
        writer.writerow(["big_function", "mov eax, 1\n" * 20000, "big_function"])
        writer.writerow(["small_function", "ret", "small_function"])
    result = run_cli("eval", str(predictions), "-o", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "report" / "report.md").is_file()


# ---- train --------------------------------------------------------------------------------------------

def train_args(train_csv, output_dir) -> list[str]:
    return ["train", "--train_data", str(train_csv), "--eval_data", str(train_csv), "--output_dir", str(output_dir),
            "--max_steps", "1", "--epochs", "1", "--encoder_pretrain_steps", "2", "--vocab_size", "500",
            "--eval_max_samples", "2", "--no_progress"]


@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_train_rejects_out_of_range_seed(tmp_path, seed):
    data = tmp_path / "train.csv"
    write_dataset(data, three_project_rows())
    result = run_cli(*train_args(data, tmp_path / "run"), "--seed", seed)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "seed" in result.stderr


def test_train_rejects_4bit_with_tiny(tmp_path):
    data = tmp_path / "train.csv"
    write_dataset(data, three_project_rows())
    result = run_cli(*train_args(data, tmp_path / "run"), "--load_in_4bit")
    assert_clean_failure(result, "load_in_4bit")
    assert "--preset paper" in result.stderr
    assert not (tmp_path / "run").exists()


def test_failed_train_removes_its_output_dir(tmp_path):
    data = tmp_path / "train.csv"
    write_dataset(data, three_project_rows())
    missing = tmp_path / "no-encoder"
    result = run_cli(*train_args(data, tmp_path / "new" / "run"), "--encoder_path", str(missing))
    assert_clean_failure(result, str(missing), "folder not found")
    assert not (tmp_path / "new").exists()


def test_train_on_only_tiny_functions(tmp_path):
    data = tmp_path / "train.csv"
    write_dataset(data, [(f"f{i}", "p", "ret") for i in range(20)])
    result = run_cli(*train_args(data, tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "run" / "best_model" / "binbridge_config.json").is_file()


def test_train_output_dir_is_a_file(tmp_path):
    data = tmp_path / "train.csv"
    write_dataset(data, three_project_rows())
    target = tmp_path / "taken"
    target.write_text("a file, not a folder\n")
    result = run_cli(*train_args(data, target))
    assert_clean_failure(result, str(target))


# ---- interactive --------------------------------------------------------------------------------------

class FixedPredictor:
    """Stand-in for NamePredictor that names every function the same."""

    def predict(self, assemblies, prefixes=None):
        from binbridge.model.binbridge import GeneratedName

        return [GeneratedName(name="fixed_name", analysis="", confidence=0.5, raw_text="") for _ in assemblies]

    def prefix_for(self, binary, soname=""):
        return None


def test_interactive_survives_huge_immediate():
    from binbridge.inference.interactive import run_interactive

    lines = iter(["mov eax, " + "9" * 5000 + "\n", "\n", "ret\n", "\n"])
    written: list[str] = []
    run_interactive(FixedPredictor(), lambda: next(lines, None), written.append)
    assert "fixed_name" in "".join(written), "the query after the bad one must still be answered"


@pytest.mark.parametrize("relative", [False, True])
def test_interactive_mistyped_binary_path(tmp_path, relative):
    """A missing file, given with a folder or as a bare name with a dot, is an error, not pasted assembly."""
    from binbridge.inference.interactive import run_interactive

    missing = "missing.so" if relative else str(tmp_path / "nope")
    lines = iter([f"{missing} 0x10\n", "\n", ".p2align 4\n", "ret\n", "\n"])
    written: list[str] = []
    run_interactive(FixedPredictor(), lambda: next(lines, None), written.append)
    output = "".join(written)
    assert f"{missing}: file not found" in output
    assert output.count("fixed_name") == 1, "only the pasted assembly is named"


def test_interactive_non_utf8_stdin(tmp_path):
    from binbridge.inference.predictor import DEFAULT_MODEL_DIR

    if not (DEFAULT_MODEL_DIR / "binbridge_config.json").is_file():
        pytest.skip("the embedded default model is not installed")
    completed = subprocess.run([sys.executable, "-m", "binbridge.cli", "infer", "--interactive"],
                               input=b"push rbp\n\xff\xfe garbage\n\nret\n\n", capture_output=True, timeout=300)
    stderr = completed.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr
    assert completed.returncode in (0, 2), stderr


# ---- saved models -------------------------------------------------------------------------------------

def test_saved_model_keeps_umask_permissions(tiny_components, tmp_path):
    # A model folder shared with other users must be readable like any file written with open().
    from binbridge.model.config import BinbridgeConfig, DecoderConfig, EncoderConfig, QFormerConfig
    from binbridge.model.loading import build_model, save_model

    config = BinbridgeConfig(
        preset="test",
        encoder=EncoderConfig(model_path=str(tiny_components / "encoder"), window_size=16, stride=8,
                              max_seq_length=128),
        qformer=QFormerConfig(num_query_tokens=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, dropout=0.0),
        decoder=DecoderConfig(model_path=str(tiny_components / "decoder"), lora_r=4, lora_alpha=8),
    )
    saved = save_model(build_model(config, trainable=True), tmp_path / "saved")
    umask = os.umask(0)
    os.umask(umask)
    folder_mode = stat.S_IMODE(saved.stat().st_mode)
    assert folder_mode == 0o777 & ~umask, f"model folder mode {folder_mode:o}"
    for path in saved.rglob("*"):
        if path.is_file():
            file_mode = stat.S_IMODE(path.stat().st_mode)
            assert file_mode == 0o666 & ~umask, f"{path.name} mode {file_mode:o}"


def test_interactive_header_alone_is_error():
    from binbridge.inference.interactive import run_interactive

    lines = iter(["Disassembly of section .text:\n", "\n", "ret\n", "\n"])
    written: list[str] = []
    run_interactive(FixedPredictor(), lambda: next(lines, None), written.append)
    output = "".join(written)
    assert "no instructions found" in output
    assert output.count("fixed_name") == 1, "only the query with an instruction is named"


def test_infer_output_is_not_its_input(tmp_path):
    table = tmp_path / "rows.csv"
    table.write_text("function_name,assembly\nf,\"ret\"\n")
    before = table.read_bytes()
    result = run_cli("infer", "--input", str(table), "--output", str(table))
    assert_clean_failure(result, "output path is the input")
    assert table.read_bytes() == before
