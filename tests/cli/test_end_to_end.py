"""extract -> train a few steps -> infer -> name, all through the CLI, on a binary built here."""

import csv
import json

import pytest

csv.field_size_limit(2**31 - 1)  # assembly cells of large functions exceed the default limit

from cli_helpers import run_cli


@pytest.fixture(scope="module")
def trained_model(sample_binaries, tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    dataset = work / "functions.csv"
    result = run_cli("extract", str(sample_binaries / "libsample.a"), str(sample_binaries / "sample"),
                     "/usr/lib/x86_64-linux-gnu/libc.a", "-o", str(dataset), "--no_progress")
    assert result.returncode == 0, result.stderr
    # Keep the run short: a few hundred rows of libc plus every sample row.
    with dataset.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    sample_rows = [r for r in rows if "sample" in r["binary"]]
    small = sample_rows + [r for r in rows if "libc.a" in r["binary"]][:200]
    train_csv = work / "train.csv"
    with train_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(small)
    eval_csv = work / "eval.csv"
    with eval_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(sample_rows)

    out = work / "run"
    result = run_cli("train", "--train_data", str(train_csv), "--eval_data", str(eval_csv), "--output_dir", str(out),
                     "--preset", "tiny", "--epochs", "1", "--max_steps", "3", "--batch_size", "4",
                     "--gradient_accumulation_steps", "1", "--encoder_pretrain_steps", "2", "--vocab_size", "600",
                     "--eval_max_samples", "8", "--seed", "1", "--no_progress")
    assert result.returncode == 0, result.stderr
    return {"work": work, "dataset": dataset, "eval_csv": eval_csv, "run": out, "rows": rows}


def test_extract_has_sample_functions(trained_model):
    names = {r["function_name"] for r in trained_model["rows"] if "sample" in r["binary"]}
    assert {"duplicate_string", "print_usage", "sum_array", "main"} <= names  # count_words is inlined
    row = next(r for r in trained_model["rows"] if r["function_name"] == "print_usage")
    assert row["arch"] == "x86_64"
    assert row["project"] in {"sample", "libsample"}
    assert "usage: %s" in row["assembly"], "string references must be shown"


def test_train_writes_both_models(trained_model):
    for folder in ("best_model", "last_model"):
        path = trained_model["run"] / folder
        assert (path / "binbridge_config.json").is_file()
        assert (path / "bridge.safetensors").is_file()
        assert list((path / "decoder").glob("*.safetensors"))
        assert list((path / "encoder").glob("*.safetensors"))
        assert not list(path.rglob("*.bin")), "weights must be safetensors, never pickle"


def test_infer_adds_predicted_name(trained_model, tmp_path):
    output = tmp_path / "predictions.csv"
    result = run_cli("infer", "--model_path", str(trained_model["run"] / "best_model"),
                     "--input", str(trained_model["eval_csv"]), "--output", str(output), "--batch_size", "4",
                     "--no_progress")
    assert result.returncode == 0, result.stderr
    with output.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with trained_model["eval_csv"].open(newline="") as handle:
        original = list(csv.DictReader(handle))
    assert len(rows) == len(original)
    assert "predicted_name" in rows[0]
    assert [r["function_name"] for r in rows] == [r["function_name"] for r in original]


def test_inference_script_same_flags(trained_model, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    output = tmp_path / "predictions.csv"
    script = Path(__file__).resolve().parents[2] / "inference.py"
    completed = subprocess.run([sys.executable, str(script), "--model_path", str(trained_model["run"] / "last_model"),
                                "--input", str(trained_model["eval_csv"]), "--output", str(output),
                                "--batch_size", "8"], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    assert output.is_file()


def test_name_stripped_binary_json(trained_model, sample_binaries, tmp_path):
    output = tmp_path / "names.json"
    result = run_cli("name", str(sample_binaries / "sample.stripped"), "--model_path",
                     str(trained_model["run"] / "best_model"), "--format", "json", "-o", str(output))
    assert result.returncode == 0, result.stderr
    document = json.loads(output.read_text())
    assert document["arch"] == "x86_64"
    assert len(document["sha256"]) == 64
    functions = document["functions"]
    assert len(functions) >= 5
    for function in functions:
        assert function["address"].startswith("0x")
        assert function["source"] in ("model", "runtime")  # runtime: _start and crtbegin's functions
        assert function["name"].isidentifier()
        assert 0.0 <= function["confidence"] <= 1.0
    assert len({f["name"] for f in functions}) == len(functions), "names are unique by default"


def test_name_unstripped_uses_symbols(trained_model, sample_binaries):
    result = run_cli("name", str(sample_binaries / "sample"), "--model_path", str(trained_model["run"] / "best_model"),
                     "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(result.stdout.splitlines()))
    by_name = {r["name"]: r for r in rows}
    assert by_name["print_usage"]["source"] == "symbol"
    assert float(by_name["print_usage"]["confidence"]) == 1.0


def test_name_table_format(trained_model, sample_binaries):
    result = run_cli("name", str(sample_binaries / "sample.stripped"), "--model_path",
                     str(trained_model["run"] / "best_model"))
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header == ["address", "size", "name", "confidence", "source"]


def test_interactive_assembly_and_address(trained_model, sample_binaries):
    stripped = sample_binaries / "sample.stripped"
    listing = run_cli("name", str(stripped), "--model_path", str(trained_model["run"] / "best_model"),
                      "--format", "json")
    first = json.loads(listing.stdout)["functions"][0]["address"]
    stdin = "push rbp\nmov rbp, rsp\ncall <malloc>\npop rbp\nret\n\n" + f"{stripped} {first}\n"
    result = run_cli("infer", "--model_path", str(trained_model["run"] / "best_model"), "--interactive",
                     stdin=stdin)
    assert result.returncode == 0, result.stderr
    answers = [line for line in result.stdout.splitlines()[1:] if line.strip()]
    assert len(answers) == 2, result.stdout
    for answer in answers:
        name, confidence = answer.split("\t")
        assert name.isidentifier() or name == "(no name)"
        assert 0.0 <= float(confidence) <= 1.0


def test_eval_after_infer(trained_model, tmp_path):
    predictions = tmp_path / "predictions.csv"
    run_cli("infer", "--model_path", str(trained_model["run"] / "best_model"), "--input",
            str(trained_model["eval_csv"]), "--output", str(predictions), "--no_progress")
    report_dir = tmp_path / "report"
    result = run_cli("eval", str(predictions), "-o", str(report_dir))
    assert result.returncode == 0, result.stderr
    assert (report_dir / "report.md").is_file()
