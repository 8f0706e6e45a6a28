"""Chain-of-thought training path: --use_cot reads the cot column and weights analysis tokens."""

import csv
import json

from cli_helpers import run_cli

csv.field_size_limit(2**31 - 1)


def test_use_cot_trains_analysis_and_infers(sample_binaries, tmp_path):
    extracted = tmp_path / "functions.csv"
    result = run_cli("extract", str(sample_binaries / "libsample.a"), "-o", str(extracted), "--no_progress")
    assert result.returncode == 0, result.stderr
    with extracted.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["cot"] = f"The function calls helpers and returns a value; it is {row['function_name']}."
    dataset = tmp_path / "cot.csv"
    with dataset.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)

    out = tmp_path / "run"
    result = run_cli("train", "--train_data", str(dataset), "--eval_data", str(dataset), "--output_dir", str(out),
                     "--use_cot", "--epochs", "1", "--max_steps", "2", "--batch_size", "2",
                     "--gradient_accumulation_steps", "1", "--encoder_pretrain_steps", "1", "--vocab_size", "400",
                     "--eval_max_samples", "2", "--no_progress")
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "best_model" / "binbridge_config.json").read_text())
    assert config["use_cot"] is True
    assert config["loss"] == {"analysis_weight": 0.3, "name_weight": 0.7}

    predictions = tmp_path / "predictions.csv"
    result = run_cli("infer", "--model_path", str(out / "best_model"), "--input", str(dataset), "--output",
                     str(predictions), "--show_analysis")
    assert result.returncode == 0, result.stderr
    with predictions.open(newline="") as handle:
        header = next(csv.reader(handle))
    assert "predicted_analysis" in header
    assert "predicted_name" in header


def test_use_cot_without_cot_column_fails(sample_binaries, tmp_path):
    extracted = tmp_path / "functions.csv"
    run_cli("extract", str(sample_binaries / "libsample.a"), "-o", str(extracted), "--no_progress")
    result = run_cli("train", "--train_data", str(extracted), "--eval_data", str(extracted), "--output_dir",
                     str(tmp_path / "run"), "--use_cot")
    assert result.returncode == 2
    assert "--use_cot" in result.stderr
    assert "Traceback" not in result.stderr
