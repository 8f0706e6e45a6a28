#!/usr/bin/env python3
"""Score a model on held-out projects next to the two baselines that it must beat.

Baselines:
- most frequent words: always predict the training set's most frequent name words;
- nearest neighbour: the name of the training function whose mean-pooled encoder
  features are closest (cosine) to the test function's;
- most frequent words with the library prefix: the first baseline with the prefix
  that the name-word model gets (``pcap`` for libpcap), for a fair comparison.

The name-word model takes each row's library prefix from its ``binary`` column, as
``binbridge infer`` does: from the identifiers in the file's read-only strings
(``--no_string_prefix`` skips them), else from its name; ``--prefix none`` turns that off. ``--prefix_library
PROJECT=LIBRARY`` takes it for that project's rows from a stripped shared
library's exported names instead, as ``binbridge name`` does for such a file, and
``--only_unexported`` then scores only the functions that the library does not
export (those that a stripped shared library leaves to the model).

Usage:
    python benchmarks/heldout_benchmark.py --train_data DIR/train.csv --test_data DIR/test.csv \
        [--model_path MODEL] [--max_train 20000] [--prefix_library PROJECT=LIBRARY ...] [-o OUT_DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import time
from pathlib import Path

from binbridge.binary import function_names, read_only_strings
from binbridge.binary.members import member_file
from binbridge.data.schema import read_dataset
from binbridge.evaluation import (BaselinePredictions, EvaluationConfig, PredictionRow, evaluate,
                                  most_frequent_words_baseline, nearest_neighbour_baseline, write_report)
from binbridge.inference.predictor import NamePredictor
from binbridge.inference.word_names import STRING_PREFIX_BYTES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_data", required=True, help="training CSV (baselines draw from it)")
    parser.add_argument("--test_data", required=True, help="held-out CSV to score")
    parser.add_argument("--model_path", help="model folder (default: the embedded model)")
    parser.add_argument("--no_string_names", action="store_true",
                        help="decode every name, ignoring __func__ strings (measures the model alone)")
    parser.add_argument("--no_signatures", action="store_true", help="ignore the model folder's signatures.json")
    parser.add_argument("--namer", choices=("auto", "words", "decoder"), default="auto",
                        help="what names the functions (see 'binbridge name --help')")
    parser.add_argument("--prefix", default="auto", help="library prefix: auto, none or a word")
    parser.add_argument("--prefix_library", action="append", default=[], metavar="PROJECT=LIBRARY",
                        help="read the prefix for PROJECT's rows from LIBRARY's exported names (repeatable)")
    parser.add_argument("--only_unexported", action="store_true",
                        help="score only rows whose name is not among their --prefix_library library's exports")
    parser.add_argument("--file_name_prefix", action="store_true",
                        help="with --prefix_library, still take the prefix from the binary column (for comparison)")
    parser.add_argument("--no_string_prefix", action="store_true",
                        help="do not read the prefix from the identifiers in each binary's read-only strings")
    parser.add_argument("--max_train", type=int, default=20000, help="training rows for the retrieval index")
    parser.add_argument("-o", "--output_dir", default="work/bench/heldout", help="report folder")
    args = parser.parse_args()
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    train = read_dataset(args.train_data)
    test = read_dataset(args.test_data)
    exports = library_exports(args.prefix_library)
    if args.only_unexported:
        test = [r for r in test if r.function_name not in exports.get(r.project, frozenset())]
    random.Random(0).shuffle(train)
    train = train[: args.max_train]
    predictor = NamePredictor.from_path(args.model_path, string_names=not args.no_string_names,
                                        model_signatures=not args.no_signatures, namer=args.namer,
                                        prefix=args.prefix)

    started = time.time()
    prefix_names = {} if args.file_name_prefix else exports
    strings = BinaryStrings(enabled=not args.no_string_prefix)
    prefixes = [predictor.prefix_for(r.binary, symbol_names=sorted(prefix_names.get(r.project, ())),
                                     strings=strings(r.binary)) for r in test]
    print(f"prefixes: {dict(sorted({r.project: p for r, p in zip(test, prefixes)}.items()))}")
    predictions = predictor.predict([r.assembly for r in test], show_progress=True, prefixes=prefixes)
    model_seconds = time.time() - started

    frequent = most_frequent_words_baseline([r.function_name for r in train])
    train_features = predictor.pooled_features([r.assembly for r in train], show_progress=True).numpy()
    test_features = predictor.pooled_features([r.assembly for r in test], show_progress=True).numpy()
    neighbours = nearest_neighbour_baseline(train_features, [r.function_name for r in train], test_features)
    baselines = [
        BaselinePredictions("most frequent words", f"always '{frequent.name}'", [frequent.name] * len(test)),
        BaselinePredictions("nearest neighbour", f"cosine over mean-pooled encoder features, {len(train)} "
                            "training functions", list(neighbours.predicted_names)),
        BaselinePredictions("most frequent words with the library prefix",
                            f"'PREFIX_{frequent.name}' where the binary has a prefix, else '{frequent.name}'",
                            [f"{p}_{frequent.name}" if p else frequent.name for p in prefixes]),
    ]
    rows = [PredictionRow(r.function_name, p.name or "", r.project, r.opt_level) for r, p in zip(test, predictions)]
    report = evaluate(rows, config=EvaluationConfig(), baselines=baselines, source=args.test_data)
    write_report(report, out_dir)

    with (out_dir / "predictions.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["function_name", "predicted_name", "confidence", "name_source", "project",
                         "nearest_neighbour"])
        for record, prediction, neighbour in zip(test, predictions, neighbours.predicted_names):
            writer.writerow([record.function_name, prediction.name or "", f"{prediction.confidence:.4f}",
                             prediction.source, record.project, neighbour])
    overall = report.overall
    print(f"model: XFL-style F1 {overall.xfl.f1:.4f}, SymLM-style F1 {overall.symlm.f1:.4f} on {len(test)} functions "
          f"({len(test) / model_seconds:.1f} functions/s)")
    for baseline in report.baselines:
        scores = baseline.scores
        print(f"{baseline.name}: XFL-style F1 {scores.xfl.f1:.4f}, SymLM-style F1 {scores.symlm.f1:.4f}")
    print(f"report: {out_dir / 'report.md'}")
    return 0


class BinaryStrings:
    """The read-only strings of each row's binary file (the archive for ``lib.a:member.o``), each read once."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.by_path: dict[str, list[str]] = {}

    def __call__(self, binary: str) -> list[str]:
        path = member_file(binary)
        if not self.enabled or not os.path.isfile(path):
            return []
        if path not in self.by_path:
            self.by_path[path] = read_only_strings(path, STRING_PREFIX_BYTES)
        return self.by_path[path]


def library_exports(pairs: list[str]) -> dict[str, frozenset[str]]:
    """Map each PROJECT of ``PROJECT=LIBRARY`` to the function names that LIBRARY keeps."""
    exports = {}
    for pair in pairs:
        project, separator, library = pair.partition("=")
        if not separator or not project or not library:
            raise SystemExit(f"invalid --prefix_library {pair!r}: write PROJECT=LIBRARY, such as "
                             "expat=/usr/lib/x86_64-linux-gnu/libexpat.so.1")
        exports[project] = frozenset(function_names(library))
    return exports


if __name__ == "__main__":
    sys.exit(main())
