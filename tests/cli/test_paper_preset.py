"""The paper preset's code path, with small random RoFormer and Llama folders in place of CLAP-ASM and Llama 3.2."""

import csv
import json

from cli_helpers import run_cli

csv.field_size_limit(2**31 - 1)


def test_paper_preset_trains_and_infers(sample_binaries, tiny_components, tmp_path):
    dataset = tmp_path / "functions.csv"
    result = run_cli("extract", str(sample_binaries / "libsample.a"), str(sample_binaries / "sample"),
                     "-o", str(dataset), "--no_progress")
    assert result.returncode == 0, result.stderr

    out = tmp_path / "run"
    result = run_cli("train", "--preset", "paper", "--encoder_path", str(tiny_components / "encoder"),
                     "--decoder_path", str(tiny_components / "decoder"), "--window_size", "128", "--stride", "64",
                     "--train_data", str(dataset), "--eval_data", str(dataset), "--output_dir", str(out),
                     "--epochs", "1", "--max_steps", "2", "--batch_size", "2", "--gradient_accumulation_steps", "1",
                     "--eval_max_samples", "2", "--no_progress")
    assert result.returncode == 0, result.stderr

    best = out / "best_model"
    config = json.loads((best / "binbridge_config.json").read_text())
    assert config["preset"] == "paper"
    assert config["qformer"]["hidden_size"] == 768
    assert config["qformer"]["num_query_tokens"] == 64
    assert config["decoder"]["model_path"] == str(tiny_components / "decoder")
    assert config["decoder"]["lora_r"] == 64
    assert (best / "decoder_adapter" / "adapter_model.safetensors").is_file()
    assert not (best / "decoder").exists(), "a pretrained decoder base is referenced, not copied"

    predictions = tmp_path / "predictions.csv"
    result = run_cli("infer", "--model_path", str(best), "--input", str(dataset), "--output", str(predictions))
    assert result.returncode == 0, result.stderr
    with predictions.open(newline="") as handle:
        assert "predicted_name" in next(csv.DictReader(handle))
