#!/usr/bin/env bash
# Train one small tiny-preset model per hidden lever (and one with all levers) on the same
# subset and budget, then score each on the held-out test projects.
# Usage: benchmarks/run_lever_ablation.sh CORPUS_DIR ENCODER_DIR OUT_DIR
set -euo pipefail
corpus=$1 encoder=$2 out=$3
samples=${SAMPLES:-8000} steps=${STEPS:-700}
mkdir -p "$out"
for lever in all imports strings constants; do
    data="$corpus"
    if [ "$lever" != all ]; then
        data="$out/data-$lever"
        python benchmarks/lever_ablation.py "$lever" "$data" "$corpus/train.csv" "$corpus/eval.csv" "$corpus/test.csv"
    fi
    binbridge train --train_data "$data/train.csv" --eval_data "$data/eval.csv" --output_dir "$out/run-$lever" \
        --preset tiny --encoder_path "$encoder" --max_input_tokens 512 --max_train_samples "$samples" \
        --epochs 1 --max_steps "$steps" --batch_size 16 --gradient_accumulation_steps 1 --learning_rate 1e-3 \
        --eval_max_samples 200 --seed 0 --no_progress
    python benchmarks/heldout_benchmark.py --train_data "$data/train.csv" --test_data "$data/test.csv" \
        --model_path "$out/run-$lever/best_model" --max_train 8000 -o "$out/report-$lever" | tee "$out/result-$lever.txt"
done
