#!/usr/bin/env python3
"""Score decoding settings (guidance scale x repetition penalty x name-start guidance) of one model on one dataset.

For every pair of settings, names the same evenly spaced rows and reports the
SymLM-style and XFL-style word F1 and how many distinct names came out. A
decoder that ignores its input gives few distinct names and a word F1 close to
the most-frequent-words baseline.

Usage:
    python benchmarks/decoding_sweep.py --model_path MODEL --data eval.csv \
        [--rows 300] [--guidance 1,2,3] [--penalty 1,1.3] [--name_start 1,6]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from binbridge.data.schema import read_dataset
from binbridge.evaluation import EvaluationConfig, PredictionRow, evaluate
from binbridge.inference.predictor import NamePredictor


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_path", help="model folder (default: the embedded model)")
    parser.add_argument("--data", required=True, help="dataset CSV with function_name and assembly")
    parser.add_argument("--rows", type=int, default=300, help="evenly spaced rows to name (default 300)")
    parser.add_argument("--guidance", type=_floats, default=[1.0, 2.0, 3.0],
                        help="comma-separated guidance scales >= 1 (default 1,2,3)")
    parser.add_argument("--penalty", type=_floats, default=[1.0, 1.3],
                        help="comma-separated repetition penalties >= 1 (default 1,1.3)")
    parser.add_argument("--name_start", type=_floats, default=None,
                        help="comma-separated name-start guidance factors >= 1 (default: the model's saved value)")
    args = parser.parse_args()

    records = read_dataset(args.data)
    indices = np.linspace(0, len(records) - 1, min(args.rows, len(records))).round().astype(int).tolist()
    rows = [records[i] for i in indices]
    predictor = NamePredictor.from_path(args.model_path)
    config = predictor.model.config
    name_starts = args.name_start or [config.name_start_guidance]
    print("| guidance | penalty | name start | SymLM F1 | XFL F1 | distinct names |")
    print("|---|---|---|---|---|---|")
    settings = [(g, p, n) for g in args.guidance for p in args.penalty for n in name_starts]
    for guidance, penalty, name_start in settings:
        config.guidance_scale = guidance
        config.repetition_penalty = penalty
        config.name_start_guidance = name_start
        names = [g.name for g in predictor.predict([r.assembly for r in rows])]
        scored = [PredictionRow(true_name=r.function_name, predicted_name=name, project=r.project,
                                opt_level=r.opt_level) for r, name in zip(rows, names)]
        report = evaluate(scored, config=EvaluationConfig())
        overall = report.overall
        print(f"| {guidance:g} | {penalty:g} | {name_start:g} | {overall.symlm.f1:.4f} | {overall.xfl.f1:.4f} | "
              f"{len(set(names))} / {len(names)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
