"""Command-line interface: ``binbridge {extract,train,infer,name,eval,split,corpus,signatures}``.

Only this module prints. Every ``BinbridgeError`` becomes a one-line message on
stderr and exit code 2; outputs are written to a temp file and renamed, so a
failed command leaves no partial file behind.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

from binbridge import __version__
from binbridge.errors import BinbridgeError, InputError

EXIT_USAGE = 2
logger = logging.getLogger("binbridge.cli")


def _count(number: int, noun: str) -> str:
    """Return "1 function" or "3 functions"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _quiet_transformers() -> None:
    """Silence transformers' warnings and progress bars; only commands that load models import it
    (the import alone takes about 0.8 s, a fifth of extracting libcrypto.a)."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    # Deprecation notices about transformers' and peft's own internals give users nothing to act on.
    for module in ("transformers", "peft"):
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)


def check_output_path(path: str | os.PathLike[str], *, inputs: tuple[str | os.PathLike[str], ...] = ()) -> Path:
    """Reject an output path that cannot be written, or that is one of ``inputs``, before any slow work starts."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "output path is a directory", "pass a file path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(path, f"output folder {parent} does not exist", "create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(path, f"output folder {parent} is not writable", "pass a path in a folder you can write")
    for source in inputs:
        if path.exists() and os.path.exists(source) and os.path.samefile(path, source):
            raise InputError(path, f"output path is the input {source}, which would be overwritten",
                             "pass another output path")
    return parent


def write_text_atomically(path: str | os.PathLike[str], text: str) -> None:
    from binbridge.outputs import atomic_output

    check_output_path(path)
    with atomic_output(path) as handle:
        handle.write(text)


def _show_progress(args: argparse.Namespace) -> bool:
    """Progress bars go to stderr, so they appear only when stderr is a terminal."""
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


# ---- subcommand handlers -------------------------------------------------------------------------

def cmd_extract(args: argparse.Namespace) -> int:
    from binbridge.data.extract import extract_to_csv

    check_output_path(args.output)
    result = extract_to_csv(args.inputs, args.output, project=args.project, opt_level=args.opt_level,
                            keep_unnamed=args.keep_unnamed, show_progress=_show_progress(args), jobs=args.jobs)
    print(f"wrote {_count(result.rows, 'function')} from {_count(result.inputs, 'input')} to {args.output}",
          file=sys.stderr)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from binbridge.training.arguments import TrainingArguments
    from binbridge.training.trainer import train

    _quiet_transformers()
    fields = {k: v for k, v in vars(args).items() if k in TrainingArguments.__dataclass_fields__}
    fields["show_progress"] = _show_progress(args)
    result = train(TrainingArguments(**fields))
    print(f"trained {result.steps} steps in {result.seconds:.0f} s ({result.samples_per_second:.1f} samples/s); "
          f"best eval name F1 {result.best_name_f1:.4f} at epoch {result.best_epoch}; "
          f"models in {result.output_dir}/best_model and {result.output_dir}/last_model", file=sys.stderr)
    return 0


def cmd_train_words(args: argparse.Namespace) -> int:
    from binbridge.training.word_training import WordTrainingArguments, train_words

    fields = {k: v for k, v in vars(args).items() if k in WordTrainingArguments.__dataclass_fields__}
    fields["show_progress"] = _show_progress(args)
    result = train_words(WordTrainingArguments(**fields))
    scored = f"; eval SymLM-style F1 {result.eval_f1:.4f} at epoch {result.best_epoch}" if result.eval_f1 is not None else ""
    print(f"trained the name-word model on {_count(result.rows, 'function')} in {result.seconds:.0f} s "
          f"({result.words} words, {result.features} features){scored}; names use up to {_count(result.max_words, 'word')} "
          f"(relative threshold {result.relative_threshold:g}); wrote {result.output_dir}", file=sys.stderr)
    return 0


def _predictor(args: argparse.Namespace):
    from binbridge.inference.predictor import NamePredictor, default_model_path
    from binbridge.model.word_model import has_word_model

    namer = args.namer
    if namer == "auto" and args.show_analysis:
        namer = "decoder"  # only the decoder writes an analysis
    if namer == "decoder" or not has_word_model(args.model_path or default_model_path()):
        _quiet_transformers()  # before the decoder loads; the name-word model needs no transformers
    predictor = NamePredictor.from_path(args.model_path, batch_size=args.batch_size, num_threads=args.threads,
                                        string_names=not args.no_string_names,
                                        model_signatures=not args.no_signatures, signature_files=args.signatures,
                                        namer=namer, prefix=args.prefix)
    # argparse already checked the values (cli_options._decoding_factor).
    decoding_options = [option for option in ("guidance_scale", "repetition_penalty", "name_start_guidance")
                        if getattr(args, option) is not None]
    for option in decoding_options:
        predictor.set_decoding_option(option, getattr(args, option))
    if decoding_options and predictor.word_namer is not None:
        flags = ", ".join("--" + option for option in decoding_options)
        print(f"binbridge: warning: {flags} apply to the decoder, and the name-word model names these functions; "
              "add --namer decoder to use the decoder", file=sys.stderr)
    return predictor


def cmd_infer(args: argparse.Namespace) -> int:
    if args.interactive:
        from binbridge.inference.interactive import run_interactive

        predictor = _predictor(args)
        sys.stdin.reconfigure(errors="replace")

        def read_line() -> str | None:
            line = sys.stdin.readline()
            return line if line else None

        def write(text: str) -> None:
            sys.stdout.write(text)
            sys.stdout.flush()

        run_interactive(predictor, read_line, write, show_analysis=args.show_analysis)
        return 0
    if not args.input or not args.output:
        raise InputError(None, "--input and --output are required unless --interactive is given",
                         "pass --input FILE.csv --output OUT.csv")
    from binbridge.data.schema import INFERENCE_COLUMNS, read_header
    from binbridge.inference.batch import infer_csv

    read_header(args.input, INFERENCE_COLUMNS)  # fail on a bad input before loading the model
    check_output_path(args.output, inputs=(args.input, *args.signatures))
    result = infer_csv(_predictor(args), args.input, args.output, show_analysis=args.show_analysis,
                       show_progress=_show_progress(args))
    print(f"wrote {_count(result.rows, 'prediction')} to {result.output}", file=sys.stderr)
    return 0


def cmd_name(args: argparse.Namespace) -> int:
    from binbridge.binary import describe_binary
    from binbridge.inference.formats import render
    from binbridge.inference.naming import name_binary

    info = describe_binary(args.binary)  # fail on a bad binary before loading the model
    if args.output:
        check_output_path(args.output, inputs=(args.binary, *args.signatures))
    # The model loads only when a function has no symbol name (or with --rename_symbols).
    predictor = _predictor(args) if info.stripped or args.rename_symbols else (lambda: _predictor(args))
    naming = name_binary(args.binary, predictor, unique=not args.keep_duplicates,
                         rename_symbols=args.rename_symbols, show_progress=_show_progress(args),
                         cold_parts=not args.no_cold_parts, string_names=not args.no_string_names,
                         rtti=not args.no_rtti)
    if not naming.functions:
        raise InputError(args.binary, "no functions found: no function symbols, and .eh_frame describes none "
                         "(damaged, or built without unwind tables)", "pass an unstripped copy of the binary")
    text = render(naming, args.format, with_analysis=args.show_analysis)
    if args.output:
        write_text_atomically(args.output, text)
        print(f"wrote {_count(len(naming.functions), 'function')} to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from binbridge.data.schema import read_dataset, write_dataset
    from binbridge.data.split import pick_held_out_projects, split_by_project

    if not 0.0 < args.eval_fraction < 1.0:  # also rejects nan
        raise InputError(None, f"--eval_fraction {args.eval_fraction} is outside (0, 1)", "use a value such as 0.1")
    records = read_dataset(args.input)
    held_out: dict[str, list[str]] = {}
    if args.eval_projects:
        held_out["eval"] = [p.strip() for p in args.eval_projects.split(",") if p.strip()]
    else:
        held_out["eval"] = pick_held_out_projects(records, args.eval_fraction, args.seed)
    if args.test_projects:
        held_out["test"] = [p.strip() for p in args.test_projects.split(",") if p.strip()]
    result = split_by_project(records, held_out, path=args.input)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in result.splits.items():
        write_dataset(out_dir / f"{name}.csv", rows)
    write_text_atomically(out_dir / "split_summary.json", json.dumps(asdict(result.summary), indent=2) + "\n")
    counts = ", ".join(f"{name} {len(rows)}" for name, rows in result.splits.items())
    print(f"{counts} functions ({result.summary.duplicates_removed} duplicates removed) in {out_dir}",
          file=sys.stderr)
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    from binbridge.corpus import BuildConfig, build_corpus

    config = BuildConfig(manifest=args.manifest, output_dir=args.output_dir, sources=args.sources, jobs=args.jobs,
                         work_dir=args.work_dir, apt_install=args.apt_install, show_progress=_show_progress(args))
    result = build_corpus(config)
    splits = ", ".join(f"{name} {count}" for name, count in result.functions.items())
    failed = f"; {len(result.failed_packages)} packages failed or partial (see build.log)" if result.failed_packages else ""
    if sum(result.functions.values()) == 0:
        print(f"binbridge: error: the corpus in {result.output_dir} has no function: every source failed; "
              f"see {Path(result.output_dir) / 'build.log'}, and pass --apt_install for missing packages",
              file=sys.stderr)
        return EXIT_USAGE
    print(f"{splits} functions ({result.duplicates_removed} duplicates removed) in {result.output_dir} "
          f"after {result.seconds:.0f} s{failed}", file=sys.stderr)
    return 0


def cmd_signatures(args: argparse.Namespace) -> int:
    from binbridge.data.signatures import build_signature_file

    check_output_path(args.output, inputs=tuple(args.inputs))
    index = build_signature_file(args.inputs, args.output, description=args.description,
                                 show_progress=_show_progress(args))
    if not index.exact:
        print(f"binbridge: warning: {args.output} holds no signature: no named function of at least "
              f"{index.min_instructions} instructions in the inputs", file=sys.stderr)
    print(f"wrote {_count(len(index.exact), 'exact signature')}, {_count(len(index.shape), 'shape signature')}, "
          f"{_count(len(index.short), 'short signature')} and {_count(len(index.calls), 'call signature')} "
          f"to {args.output}", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from binbridge.evaluation import run_eval

    report = run_eval(args.predictions, args.output_dir, word_clusters=args.word_clusters,
                      lemmatize=args.lemmatize, train_data=args.train_data)
    overall = report.overall
    print(f"{overall.functions} functions, coverage {overall.coverage:.3f}")
    print(f"SymLM-style word F1 {overall.symlm.f1:.4f} (P {overall.symlm.precision:.4f}, R {overall.symlm.recall:.4f}), "
          f"exact match {overall.symlm.exact_match:.4f}")
    print(f"XFL-style word F1   {overall.xfl.f1:.4f} (P {overall.xfl.precision:.4f}, R {overall.xfl.recall:.4f}), "
          f"exact match {overall.xfl.exact_match:.4f}")
    print(f"report: {Path(args.output_dir) / 'report.md'}")
    return 0


# ---- parser --------------------------------------------------------------------------------------

class _OneLineErrorParser(argparse.ArgumentParser):
    """Reports a bad command line in one line (argparse prints the whole usage block first)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    from binbridge.cli_options import add_subcommands

    parser = _OneLineErrorParser(prog="binbridge", description="Name the functions of stripped x86-64 binaries.")
    parser.add_argument("--version", action="version", version=f"binbridge {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    handlers = {"extract": cmd_extract, "train": cmd_train, "train-words": cmd_train_words, "infer": cmd_infer, "name": cmd_name, "eval": cmd_eval,
                "split": cmd_split, "corpus": cmd_corpus, "signatures": cmd_signatures}
    add_subcommands(parser, handlers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    _configure_logging(args.verbose)
    if getattr(args, "allow_download", False):
        os.environ["BINBRIDGE_ALLOW_DOWNLOAD"] = "1"
    try:
        return args.handler(args)
    except BinbridgeError as error:
        print(f"binbridge: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"binbridge: error: {where}{error.strerror or error}; check the path and its permissions",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("binbridge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
