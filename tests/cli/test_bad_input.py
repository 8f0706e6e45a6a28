"""Bad input through the CLI: exit code 2, one line naming the path and the problem, no output file."""

import shutil
import struct
import subprocess

import pytest

from cli_helpers import SAMPLE_PROGRAM, assert_clean_failure, run_cli

LS = "/usr/bin/ls"
REQUIRED = "function_name,assembly,binary,address,size,arch,project,opt_level"


@pytest.fixture
def bad_files(tmp_path):
    files = {}
    files["text"] = tmp_path / "notes.txt"
    files["text"].write_text("hello, not an ELF file\n")
    files["empty"] = tmp_path / "empty.bin"
    files["empty"].write_bytes(b"")
    data = open(LS, "rb").read()
    files["truncated"] = tmp_path / "ls.truncated"
    files["truncated"].write_bytes(data[:40])
    files["no_sections"] = tmp_path / "ls.cut"
    files["no_sections"].write_bytes(data[:4096])
    arm = bytearray(data)
    struct.pack_into("<H", arm, 18, 183)  # e_machine = EM_AARCH64
    files["arm"] = tmp_path / "ls.aarch64"
    files["arm"].write_bytes(bytes(arm))
    files["dir"] = tmp_path / "folder"
    files["dir"].mkdir()
    files["missing"] = tmp_path / "does-not-exist"
    return files


@pytest.mark.parametrize("kind, needle", [
    ("missing", "not found"),
    ("dir", "directory"),
    ("text", "not an ELF"),
    ("empty", ""),
    ("truncated", ""),
    ("no_sections", ""),
    ("arm", "AArch64"),
])
def test_name_rejects_bad_binary(bad_files, tmp_path, kind, needle):
    output = tmp_path / "out.json"
    result = run_cli("name", str(bad_files[kind]), "--format", "json", "-o", str(output))
    assert_clean_failure(result, str(bad_files[kind]), needle)
    assert not output.exists()


@pytest.mark.parametrize("kind", ["missing", "dir", "text", "truncated", "arm"])
def test_extract_rejects_bad_binary(bad_files, tmp_path, kind):
    output = tmp_path / "out.csv"
    result = run_cli("extract", LS, str(bad_files[kind]), "-o", str(output), "--keep_unnamed")
    assert_clean_failure(result, str(bad_files[kind]))
    assert not output.exists(), "a failed extract must not leave a partial CSV"
    assert not list(tmp_path.glob(".out.csv*")), "temp files must be cleaned up"


def test_extract_rejects_linker_script(tmp_path):
    result = run_cli("extract", "/usr/lib/x86_64-linux-gnu/libm.a", "-o", str(tmp_path / "out.csv"))
    assert_clean_failure(result, "libm.a", "linker script")


def test_binary_without_symbols_or_eh_frame(sample_binaries, tmp_path):
    bare = tmp_path / "bare"
    subprocess.run(["strip", "--remove-section=.eh_frame", "--remove-section=.eh_frame_hdr", "-o", str(bare),
                    str(sample_binaries / "sample")], check=True)
    output = tmp_path / "names.json"
    result = run_cli("name", str(bare), "--format", "json", "-o", str(output), "--no_progress")
    assert_clean_failure(result, str(bare), "no functions found")
    assert not output.exists()


def test_corrupt_eh_frame_does_not_hang(tmp_path, gcc):
    source = tmp_path / "p.c"
    source.write_text(SAMPLE_PROGRAM)
    binary = tmp_path / "p"
    import subprocess

    subprocess.run([gcc, "-O1", str(source), "-o", str(binary), "-s"], check=True)
    header = subprocess.run(["readelf", "-SW", str(binary)], capture_output=True, text=True).stdout
    line = next(l for l in header.splitlines() if " .eh_frame " in l)
    fields = line.split("]")[1].split()
    offset, size = int(fields[3], 16), int(fields[4], 16)
    data = bytearray(binary.read_bytes())
    data[offset:offset + size] = b"\xff" * size
    binary.write_bytes(bytes(data))
    result = run_cli("name", str(binary), "--format", "json", timeout=120)
    assert result.returncode in (0, 2), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("header", ["function_name,binary\n", "assembly,size\n", ""])
def test_train_rejects_missing_columns(tmp_path, header):
    data = tmp_path / "train.csv"
    data.write_text(header + ("x,y\n" if header else ""))
    good = tmp_path / "eval.csv"
    good.write_text(REQUIRED + "\n")
    result = run_cli("train", "--train_data", str(data), "--eval_data", str(good), "--output_dir",
                     str(tmp_path / "run"))
    assert_clean_failure(result, str(data))
    if header:
        assert "missing required column" in result.stderr
        assert "opt_level" in result.stderr
    assert not (tmp_path / "run").exists()


def test_infer_rejects_csv_without_assembly(tmp_path):
    data = tmp_path / "in.csv"
    data.write_text("function_name,binary\nfoo,bar\n")
    output = tmp_path / "out.csv"
    result = run_cli("infer", "--input", str(data), "--output", str(output))
    assert_clean_failure(result, str(data), "assembly")
    assert not output.exists()


def test_infer_rejects_missing_model(tmp_path):
    data = tmp_path / "in.csv"
    data.write_text("assembly\nret\n")
    result = run_cli("infer", "--model_path", str(tmp_path / "nope"), "--input", str(data), "--output",
                     str(tmp_path / "out.csv"))
    assert_clean_failure(result, "nope", "not found")


def test_infer_rejects_pickle_only_model(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "pytorch_model.bin").write_bytes(b"not loaded")
    data = tmp_path / "in.csv"
    data.write_text("assembly\nret\n")
    result = run_cli("infer", "--model_path", str(model), "--input", str(data), "--output", str(tmp_path / "o.csv"))
    assert_clean_failure(result, str(model), "binbridge_config.json")


def test_eval_rejects_missing_columns(tmp_path):
    data = tmp_path / "p.csv"
    data.write_text("function_name\nfoo\n")
    result = run_cli("eval", str(data), "-o", str(tmp_path / "report"))
    assert_clean_failure(result, str(data), "predicted_name")
    assert not (tmp_path / "report" / "report.md").exists()


def test_bad_flag_value_exits_2(tmp_path):
    result = run_cli("train", "--train_data", "a", "--eval_data", "b", "--output_dir", "c", "--learning_rate", "5")
    assert result.returncode == 2
    assert "learning_rate" in result.stderr
    assert "Traceback" not in result.stderr


def test_name_output_into_missing_folder(tmp_path):
    result = run_cli("name", LS, "-o", str(tmp_path / "nope" / "out.json"))
    assert_clean_failure(result, "does not exist")


def test_copy_of_ls_is_accepted(tmp_path):
    # Control case: the same checks pass on a valid file, so the failures above are about the damage.
    copy = tmp_path / "ls"
    shutil.copy(LS, copy)
    result = run_cli("extract", str(copy), "-o", str(tmp_path / "ok.csv"), "--keep_unnamed", "--no_progress")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("args, needle", [
    (("train", "--train_data", "a.csv", "--eval_data", "b.csv", "--output_dir", "o", "--epochs", "-3"), "--epochs"),
    (("name",), "BINARY"),
    (("frob",), "frob"),
])
def test_usage_errors_are_one_line(args, needle):
    result = run_cli(*args)
    assert_clean_failure(result, needle)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--help" in result.stderr


@pytest.mark.parametrize("option", ["--guidance_scale", "--repetition_penalty", "--name_start_guidance"])
@pytest.mark.parametrize("value, needle", [("0.5", "0.5 is below 1.0"), ("nan", "nan is not a finite number"),
                                           ("inf", "inf is not a finite number"), ("1e308", "1e308 is above 1000")])
def test_bad_decoding_factor_rejected(tmp_path, option, value, needle):
    output = tmp_path / "names.json"
    result = run_cli("name", LS, f"{option}={value}", "--format", "json", "-o", str(output))
    assert_clean_failure(result, f"{option}: {needle}")
    assert not output.exists()


def test_bad_decoding_factor_without_model(tmp_path, gcc):
    # Every function of an unstripped binary has a symbol, so no model loads. The value is still checked.
    binary = tmp_path / "prog"
    source = tmp_path / "prog.c"
    source.write_text(SAMPLE_PROGRAM)
    subprocess.run([gcc, "-O1", "-o", str(binary), str(source)], check=True)
    output = tmp_path / "names.json"
    result = run_cli("name", str(binary), "--name_start_guidance", "0.5", "--format", "json", "-o", str(output))
    assert_clean_failure(result, "0.5 is below 1.0")
    assert not output.exists()
