"""Two-process data-parallel training on CPU through torchrun."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import run_cli


def test_torchrun_two_processes(sample_binaries, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists() and shutil.which("torchrun") is None:
        pytest.skip("torchrun is not installed")
    dataset = tmp_path / "functions.csv"
    result = run_cli("extract", str(sample_binaries / "libsample.a"), "/usr/lib/x86_64-linux-gnu/libz.a",
                     "-o", str(dataset), "--no_progress")
    if result.returncode != 0 and "not found" in result.stderr:
        pytest.skip("libz.a is not installed")
    assert result.returncode == 0, result.stderr

    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    completed = subprocess.run(
        [str(torchrun if torchrun.exists() else "torchrun"), "--standalone", "--nproc_per_node", "2",
         "-m", "binbridge.cli", "-v", "train", "--train_data", str(dataset), "--eval_data", str(dataset),
         "--output_dir", str(out), "--epochs", "1", "--max_steps", "2", "--batch_size", "2",
         "--gradient_accumulation_steps", "1", "--encoder_pretrain_steps", "1", "--vocab_size", "500",
         "--eval_max_samples", "4", "--no_progress"],
        capture_output=True, text=True, timeout=900, env=env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["steps"] == 2
    assert (out / "best_model" / "bridge.safetensors").is_file()
    assert "world size 2" in completed.stderr, "both processes must join one process group"
