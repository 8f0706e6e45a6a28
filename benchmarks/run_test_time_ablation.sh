#!/usr/bin/env bash
# Hide one lever (imports, strings, constants) in the held-out test rows only, name them with one
# trained model, and score each run. The drop from the unmasked run is how much that model relies
# on the lever. It does not say how a model trained without the lever would do: run_lever_ablation.sh
# measures that.
# Usage: benchmarks/run_test_time_ablation.sh CORPUS_DIR MODEL_DIR OUT_DIR
set -euo pipefail
corpus=$1 model=$2 out=$3
mkdir -p "$out"
for lever in none imports strings constants; do
    data="$corpus/test.csv"
    if [ "$lever" != none ]; then
        python benchmarks/lever_ablation.py "$lever" "$out/data-$lever" "$corpus/test.csv"
        data="$out/data-$lever/test.csv"
    fi
    binbridge infer --model_path "$model" --input "$data" --output "$out/predictions-$lever.csv"
    binbridge eval "$out/predictions-$lever.csv" -o "$out/report-$lever" > "$out/result-$lever.txt"
    echo "== $lever"; grep -i "f1" "$out/result-$lever.txt" | head -4
done
