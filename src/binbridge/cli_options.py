"""Argument definitions of every subcommand; kept apart from cli.py so each file stays short.

Flag names follow the original design (``--train_data``, ``--model_path``,
...) because users know them from its README.
"""

from __future__ import annotations

import argparse
import math
import os
import re

_PREFIX_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{0,39}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{value} is outside (0, 1); try 2e-4")
    return value


def _prefix(text: str) -> str:
    if text.lower() in ("auto", "none"):
        return text.lower()  # "None" is the keyword, not a prefix word
    if _PREFIX_WORD.fullmatch(text):
        return text
    raise argparse.ArgumentTypeError(f"invalid prefix {text!r}; use auto, none, or one word of letters and "
                                     "digits (at most 40) such as pcap")


def _decoding_factor(text: str) -> float:
    """Parse a decoding factor here, so that a bad value fails before any model loads."""
    from binbridge.model.config import MAX_DECODING_FACTOR

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}; use 1.0 to turn it off") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number; use 1.0 to turn it off")
    if value < 1.0:
        raise argparse.ArgumentTypeError(f"{text} is below 1.0; use 1.0 to turn it off")
    if value > MAX_DECODING_FACTOR:
        raise argparse.ArgumentTypeError(f"{text} is above {MAX_DECODING_FACTOR:g}; use a value from 1.0 to "
                                         f"{MAX_DECODING_FACTOR:g}")
    return value


def _add_decoding_arguments(parser: argparse.ArgumentParser, *, default: str) -> None:
    parser.add_argument("--guidance_scale", type=_decoding_factor,
                        help=f"classifier-free guidance: 1.0 to 1000, larger values follow the function's own "
                             f"evidence more and run the decoder twice ({default})")
    parser.add_argument("--repetition_penalty", type=_decoding_factor,
                        help=f"1.0 to 1000: makes tokens already written in a name less likely ({default})")
    parser.add_argument("--name_start_guidance", type=_decoding_factor,
                        help="1.0 to 1000: weighs a name's first token against the decoder's prior for no "
                             "function, so that generic first words such as 'init' stop winning by default; "
                             f"the embedded model uses 6 ({default})")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train_data", required=True, help="training dataset CSV (see docs/data-format.md)")
    parser.add_argument("--eval_data", required=True, help="evaluation dataset CSV; picks best_model by name F1")
    parser.add_argument("--output_dir", required=True, help="folder for best_model/, last_model/, logs and caches")
    parser.add_argument("--epochs", type=_positive_int, default=10, help="passes over the training data (default 10)")
    parser.add_argument("--batch_size", type=_positive_int, default=4, help="functions per micro-batch (default 4)")
    parser.add_argument("--learning_rate", type=_learning_rate, default=2e-4,
                        help="peak AdamW learning rate (default 2e-4)")
    parser.add_argument("--use_cot", action="store_true",
                        help="train on the 'cot' column: analysis tokens weighted 0.3, name tokens 0.7")
    parser.add_argument("--preset", choices=("tiny", "paper"), default="tiny",
                        help="model size: tiny (trains from scratch on CPU) or paper (CLAP-ASM + Llama 3.2)")
    parser.add_argument("--max_steps", type=_non_negative_int, default=0,
                        help="stop after this many optimizer steps (default 0: no limit)")
    parser.add_argument("--gradient_accumulation_steps", type=_positive_int, default=4,
                        help="micro-batches per optimizer step (default 4)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--encoder_path", help="pretrained encoder folder or hub id (required by --preset paper)")
    parser.add_argument("--decoder_path", help="Llama-family decoder folder or hub id (required by --preset paper)")
    parser.add_argument("--load_in_4bit", action="store_true", help="QLoRA: 4-bit NF4 decoder base (CUDA only)")
    parser.add_argument("--trust_remote_code", action="store_true",
                        help="allow model folders to run their own Python code (off by default)")
    parser.add_argument("--allow_download", action="store_true",
                        help="let hub ids download from the Hugging Face Hub (default: local folders and cache only)")
    parser.add_argument("--encoder_pretrain_steps", type=_non_negative_int,
                        help="masked-token pretraining steps of a scratch encoder (tiny preset default 1500)")
    parser.add_argument("--window_size", type=_positive_int,
                        help="encoder window in tokens (tiny 256, paper 2048); at most the encoder's max positions")
    parser.add_argument("--stride", type=_positive_int, help="step between windows in tokens (tiny 128, paper 256)")
    parser.add_argument("--max_input_tokens", type=_positive_int,
                        help="assembly tokens kept per function, the rest is cut (tiny 512, paper 16384)")
    parser.add_argument("--init_bridge", help="model folder whose Q-Former and projection weights start training")
    _add_decoding_arguments(parser, default="saved with the model; default 1.0: off")
    parser.add_argument("--keep_project_prefixes", action="store_true",
                        help="train on names with their project's namespace prefix (png_, gcry_); by default "
                             "the prefix most of a project's names share is removed, since no code shows it")
    parser.add_argument("--no_context_hints", action="store_true",
                        help="do not write the function's import names and strings as decoder text after the "
                             "instruction (by default they are, up to 64 tokens; the soft prompt is unchanged)")
    parser.add_argument("--shared_name_words", type=_non_negative_int, default=0, metavar="N",
                        help="train on names cut down to the words that at least N training projects use "
                             "(sqlite3Fts5ExprPhraseSize -> expr_phrase_size); default 0 keeps whole names")
    parser.add_argument("--project_balance", type=float, default=1.0, metavar="ALPHA",
                        help="draw training rows with probability proportional to project_size ** (ALPHA - 1): "
                             "1 keeps the corpus mix (default), 0 gives every project the same share")
    parser.add_argument("--word_loss_weight", type=float, default=1.0,
                        help="weight of the auxiliary loss that makes the soft prompt predict the name's words "
                             "(default 1.0; 0 turns it off)")
    parser.add_argument("--name_word_vocabulary", type=_positive_int, default=4096,
                        help="how many of the most frequent training name words that loss predicts (default 4096)")
    parser.add_argument("--max_train_samples", type=_non_negative_int, default=0,
                        help="train on a seeded random subset of this many rows (default 0: all rows)")
    parser.add_argument("--vocab_size", type=_positive_int, help="BPE vocabulary size of the tiny preset (default 8000)")
    parser.add_argument("--eval_steps", type=_non_negative_int, default=0,
                        help="also evaluate, and keep best_model, every this many optimizer steps "
                             "(default 0: after each epoch only)")
    parser.add_argument("--eval_max_samples", type=_positive_int, default=512,
                        help="eval functions named after each epoch (default 512)")
    parser.add_argument("--eval_batch_size", type=_positive_int, default=32, help="functions per eval batch (default 32)")
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16",
                        help="autocast precision of training (default bf16)")
    parser.add_argument("--cache_dir", help="feature cache folder (default OUTPUT_DIR/cache)")
    parser.add_argument("--save_dtype", choices=("fp32", "bf16"), default="fp32",
                        help="weight precision of saved models; bf16 halves their size (default fp32)")
    parser.add_argument("--no_progress", action="store_true", help="hide progress bars")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model_path", help="model folder from 'binbridge train' (default: the embedded model)")
    parser.add_argument("--batch_size", type=_positive_int, default=32,
                        help="functions per encoder pass; the decoder takes 4 times as many (default 32)")
    parser.add_argument("--threads", type=_positive_int, help="CPU threads for torch (default: all cores)")
    parser.add_argument("--show_analysis", action="store_true", help="also output the decoder's analysis text")
    parser.add_argument("--no_string_names", action="store_true",
                        help="decode every name with the model; by default a function that passes its own "
                             "name (__func__) with a source path to an assertion or error call gets that name, "
                             "with source 'string'")
    parser.add_argument("--signatures", action="append", default=[], metavar="FILE",
                        help="signature file from 'binbridge signatures'; a function whose normalised code it "
                             "holds gets the known name, with source 'signature' (repeatable; used together "
                             "with the model folder's own signatures.json)")
    parser.add_argument("--no_signatures", action="store_true",
                        help="ignore the model folder's signatures.json (files given with --signatures still apply)")
    _add_decoding_arguments(parser, default="default: the model's saved value; 1.0 turns it off")
    parser.add_argument("--namer", choices=("auto", "words", "decoder"), default="auto",
                        help="what names the functions that no symbol, signature or string names: 'words', the "
                             "name-word model (source 'words'); 'decoder', the Q-Former and decoder (source "
                             "'model', writes the analysis too); 'auto' (default): words when the model folder "
                             "has a name-word model and --show_analysis is not given, else decoder")
    parser.add_argument("--prefix", type=_prefix, default="auto", metavar="WORD",
                        help="library prefix that the name-word model writes where it predicts one (pcap_open); "
                             "'auto' (default) reads it for libraries: the namespace that most exported names "
                             "share (XML in libexpat.so.1); for a library that keeps fewer than three names, the "
                             "namespace of the identifiers in its strings; else the SONAME or a lib* file name (libpcap.so.1 -> "
                             "pcap; for 'infer', the binary column); 'none' never writes one")
    parser.add_argument("--allow_download", action="store_true",
                        help="let hub ids in the model config download from the Hugging Face Hub (default: off)")


def add_infer_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--input", help="dataset CSV with an 'assembly' column")
    parser.add_argument("--output", help="output CSV: the input rows plus predicted_name and confidence")
    parser.add_argument("--interactive", action="store_true",
                        help="read assembly (ended by an empty line) or 'BINARY ADDRESS' from stdin")
    parser.add_argument("--no_progress", action="store_true", help="hide progress bars")


def add_subcommands(parser: argparse.ArgumentParser, handlers: dict) -> None:
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    extract = sub.add_parser("extract", help="write one dataset row per function of ELF files and .a archives")
    extract.add_argument("inputs", nargs="+", metavar="INPUT", help="x86-64 ELF executable, .so, .o or .a archive")
    extract.add_argument("-o", "--output", required=True, help="output CSV path")
    extract.add_argument("--project", help="project column value (default: input file name without lib/extension)")
    extract.add_argument("--opt_level", default="unknown", help="opt_level column value, such as O2 (default unknown)")
    extract.add_argument("--keep_unnamed", action="store_true",
                         help="also write functions without a symbol name (empty function_name)")
    extract.add_argument("--jobs", type=_positive_int, default=min(os.cpu_count() or 1, 8),
                         help="worker processes for the members of archives over 2 MiB "
                              "(default: the CPU count, at most 8; 1 turns workers off)")
    extract.add_argument("--no_progress", action="store_true", help="hide progress bars")
    extract.set_defaults(handler=handlers["extract"])

    train = sub.add_parser("train", help="train a model on dataset CSVs")
    add_train_arguments(train)
    train.set_defaults(handler=handlers["train"])

    infer = sub.add_parser("infer", help="add predicted names to a dataset CSV, or name pasted assembly")
    add_infer_arguments(infer)
    infer.set_defaults(handler=handlers["infer"])

    name = sub.add_parser("name", help="find and name every function of a binary")
    name.add_argument("binary", metavar="BINARY",
                      help="x86-64 ELF executable, shared object, object file or static archive (.a)")
    add_model_arguments(name)
    name.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format (default table)")
    name.add_argument("-o", "--output", help="write to this file instead of stdout")
    name.add_argument("--keep_duplicates", action="store_true",
                      help="keep repeated predicted names instead of suffixing them _2, _3, ...")
    name.add_argument("--rename_symbols", action="store_true",
                      help="predict names for functions that already have symbols too")
    name.add_argument("--no_cold_parts", action="store_true",
                      help="treat the cold parts that GCC splits off functions as functions of their own, named "
                           "by the model; by default such a part is named after its function plus '.cold' "
                           "(source 'cold'), and its __func__ string or kept NAME.cold symbol names the function")
    name.add_argument("--no_rtti", action="store_true",
                      help="do not name C++ virtual functions from run-time type information; by default a "
                           "function that a vtable points at is named after its class (source 'rtti'): "
                           "CLASS::~CLASS for a destructor, CLASS::vfunc_N for the method in vtable slot N")
    name.add_argument("--no_progress", action="store_true", help="hide the progress bar (shown on a terminal)")
    name.set_defaults(handler=handlers["name"])

    evaluate = sub.add_parser("eval", help="score a predictions CSV (function_name vs predicted_name)")
    evaluate.add_argument("predictions", metavar="PREDICTIONS.csv", help="CSV with function_name and predicted_name")
    evaluate.add_argument("-o", "--output_dir", default="eval_report", help="report folder (default eval_report)")
    evaluate.add_argument("--word_clusters", help="JSON file mapping word -> list of synonym cluster ids")
    evaluate.add_argument("--lemmatize", action="store_true", help="lemmatise name words before matching")
    evaluate.add_argument("--train_data", help="training CSV, for the most-frequent-words baseline")
    evaluate.set_defaults(handler=handlers["eval"])

    add_train_words_subcommand(sub, handlers["train-words"])
    add_split_subcommand(sub, handlers["split"])
    add_corpus_subcommand(sub, handlers["corpus"])
    add_signatures_subcommand(sub, handlers["signatures"])


def add_signatures_subcommand(sub, handler) -> None:
    signatures = sub.add_parser("signatures", help="build a known-function signature file from named functions")
    signatures.add_argument("inputs", nargs="+", metavar="INPUT",
                            help="dataset CSV (from 'binbridge extract' or 'binbridge corpus build'), or an ELF "
                                 "file or .a archive with function symbols. Functions of 7 to 11 instructions (at "
                                 "least 2 of them computing or branching) are signed only when at least 3 projects "
                                 "have the code under one name, with two thirds of the votes. A project is a CSV "
                                 "row's project column, else an input file (copies of one file count once)")
    signatures.add_argument("-o", "--output", required=True,
                            help="signature file to write (JSON); pass it to 'binbridge name --signatures'")
    signatures.add_argument("--description", default="", help="free text stored in the file, such as the libraries")
    signatures.add_argument("--no_progress", action="store_true",
                            help="hide the progress bar (shown on a terminal; counts functions signed)")
    signatures.set_defaults(handler=handler)


def add_train_words_subcommand(sub, handler) -> None:
    words = sub.add_parser("train-words", help="train the name-word model and add it to a model folder")
    words.add_argument("--train_data", required=True, nargs="+", action="extend", metavar="CSV",
                       help="training dataset CSV(s) (from 'binbridge corpus build'); several, or the flag "
                            "repeated, are read as one")
    words.add_argument("--eval_data", help="eval dataset CSV: picks the best epoch and, unless --max_words or "
                                           "--relative_threshold is given, the naming rule by SymLM-style F1")
    words.add_argument("-o", "--output_dir", required=True,
                       help="model folder to add word_model.json and word_model.safetensors to (created if missing)")
    words.add_argument("--epochs", type=_positive_int, default=2, help="passes over the training rows (default 2)")
    words.add_argument("--batch_size", type=_positive_int, default=64, help="functions per step (default 64)")
    words.add_argument("--learning_rate", type=_learning_rate, default=3e-3,
                       help="Adam learning rate, in (0, 1) (default 3e-3)")
    words.add_argument("--dim", type=_positive_int, default=64, help="feature embedding size (default 64)")
    words.add_argument("--vocabulary_size", type=_positive_int, default=4000,
                       help="most frequent training name words the model predicts (default 4000)")
    words.add_argument("--max_features", type=_positive_int, default=40000,
                       help="features (mnemonics, imports, strings, constants) that get an embedding row; the "
                            "file grows by dim x 2 bytes per feature (default 40000, about 5 MB)")
    words.add_argument("--min_feature_count", type=_positive_int, default=3,
                       help="training functions a feature must occur in to get a row (default 3)")
    words.add_argument("--min_feature_projects", type=_positive_int, default=2,
                       help="training projects (the project column) a feature must occur in to get a row; "
                            "1 keeps features that only one project shows (default 2)")
    words.add_argument("--prefix_share", type=float, default=0.2,
                       help="a project's most common first name word counts as its prefix when at least this "
                            "fraction, in (0, 1], of its names start with it (default 0.2)")
    words.add_argument("--max_words", type=_positive_int,
                       help="naming rule: words per name at most, 1 to 8 (default 2, or chosen on --eval_data "
                            "when neither rule flag is given)")
    words.add_argument("--relative_threshold", type=float,
                       help="naming rule: a further word joins the name when its probability is at least this "
                            "fraction, in [0, 1], of the top word's (default 0.3, or chosen on --eval_data when "
                            "neither rule flag is given)")
    words.add_argument("--feature_set", type=int, choices=(1, 2), default=2,
                       help="features the model reads: 1 = mnemonics, mnemonic pairs, imports, strings, constants "
                            "and counts; 2 = set 1 plus instruction shapes (default 2)")
    words.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    words.add_argument("--no_progress", action="store_true", help="hide progress bars")
    words.set_defaults(handler=handler)


def add_split_subcommand(sub, handler) -> None:
    split = sub.add_parser("split", help="deduplicate a dataset CSV and split it by project")
    split.add_argument("input", metavar="DATASET.csv", help="dataset CSV, for example from 'binbridge extract'")
    split.add_argument("--eval_projects", help="comma-separated projects for eval.csv")
    split.add_argument("--test_projects", help="comma-separated projects for test.csv")
    split.add_argument("--eval_fraction", type=float, default=0.1,
                       help="without --eval_projects, hold out whole projects up to this fraction of rows (default 0.1)")
    split.add_argument("--seed", type=int, default=0, help="seed for choosing held-out projects (default 0)")
    split.add_argument("-o", "--output_dir", required=True,
                       help="folder for train.csv, eval.csv, test.csv and split_summary.json")
    split.set_defaults(handler=handler)


def _source_kinds(text: str) -> tuple[str, ...]:
    from binbridge.corpus.manifest import SOURCE_KINDS

    kinds = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [kind for kind in kinds if kind not in SOURCE_KINDS]
    if not kinds or unknown:
        raise argparse.ArgumentTypeError(f"invalid source kind(s) {', '.join(unknown) or repr(text)}; "
                                         f"use a comma-separated list from {','.join(SOURCE_KINDS)}")
    return kinds


def add_corpus_subcommand(sub, handler) -> None:
    corpus = sub.add_parser("corpus", help="build the training corpus from a manifest")
    actions = corpus.add_subparsers(title="actions", metavar="ACTION", dest="corpus_action", required=True)
    build = actions.add_parser("build", help="build train.csv, eval.csv and test.csv from a corpus manifest")
    build.add_argument("--manifest", default="corpus/manifest.json",
                       help="manifest JSON naming every package, version and flag (default corpus/manifest.json)")
    build.add_argument("-o", "--output_dir", required=True,
                       help="folder for the split CSVs, split_summary.json, manifest.lock.json and build.log")
    build.add_argument("--sources", type=_source_kinds, default=("libs", "sdists", "debsrc", "programs", "dbg"),
                       help="comma-separated source kinds to build: libs, sdists, debsrc, programs, dbg "
                            "(default: all)")
    build.add_argument("--jobs", type=_positive_int, default=1,
                       help="units (libraries, packages at one opt level, program packages, debug files) "
                            "built in parallel processes (default 1)")
    build.add_argument("--work_dir", help="folder for downloads, build trees and relinked binaries "
                                          "(default OUTPUT_DIR/work; reused by later builds)")
    build.add_argument("--apt_install", action="store_true",
                       help="install missing Debian packages at their manifest versions with apt-get (needs root)")
    build.add_argument("--no_progress", action="store_true", help="hide progress bars")
    build.set_defaults(handler=handler)
