"""Entry point of ``binbridge eval``: read predictions, score them and write the report."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from binbridge.evaluation.baselines import most_frequent_words_baseline
from binbridge.evaluation.clusters import load_word_clusters
from binbridge.evaluation.config import EvaluationConfig
from binbridge.evaluation.metrics import evaluate
from binbridge.evaluation.predictions import load_predictions, load_train_names
from binbridge.evaluation.report import write_report
from binbridge.evaluation.results import BaselinePredictions, EvaluationReport

logger = logging.getLogger(__name__)


def run_eval(
    predictions_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    word_clusters: str | os.PathLike[str] | None = None,
    lemmatize: bool = False,
    train_data: str | os.PathLike[str] | Sequence[str] | None = None,
    symlm_strip_decorations: bool = False,
) -> EvaluationReport:
    """Evaluate a predictions CSV and write ``report.md``, ``report.json`` and ``f1_by_project.png``.

    Args:
        predictions_path: CSV with ``function_name`` (true name) and ``predicted_name``
            columns, and optional ``project`` and ``opt_level`` columns.
        out_dir: Folder for the report files; created if missing, files overwritten.
        word_clusters: Optional JSON file that maps each word to a list of synonym
            cluster ids (SymLM-style variant only).
        lemmatize: Whether the SymLM-style variant lemmatises words before comparing them.
        train_data: Optional training-set names, either a CSV with a ``function_name``
            column or a sequence of names. When given, the report includes the
            most-frequent-words baseline built from them.
        symlm_strip_decorations: Whether the SymLM-style variant first strips compiler
            and library decorations such as ``.isra.0`` (the XFL-style variant always does).

    Returns:
        The evaluation report that was written.

    Raises:
        InputError: a file is missing or unreadable, the cluster file is invalid, or
            ``out_dir`` cannot be written.
        DatasetError: a CSV lacks required columns, has a malformed row or an empty
            ``function_name``, or has no data rows.
        ConfigError: ``lemmatize`` or ``symlm_strip_decorations`` is not a bool.
    """
    rows = load_predictions(predictions_path)
    clusters = None if word_clusters is None else load_word_clusters(word_clusters)
    config = EvaluationConfig(
        lemmatize=lemmatize, word_clusters=clusters, symlm_strip_decorations=symlm_strip_decorations
    )

    baselines: list[BaselinePredictions] = []
    if train_data is not None:
        train_names = load_train_names(train_data) if isinstance(train_data, (str, os.PathLike)) else list(train_data)
        baseline = most_frequent_words_baseline(train_names)
        description = (
            f"predicts {baseline.name!r} for every function "
            f"(SymLM-style F1 {baseline.train_f1:.4f} on the training names)"
        )
        baselines.append(BaselinePredictions("most frequent words", description, [baseline.name] * len(rows)))

    report = evaluate(rows, config=config, baselines=baselines, source=os.fspath(predictions_path))
    write_report(report, out_dir)

    overall = report.overall
    logger.info(
        "Evaluated %d functions: coverage %.3f, SymLM-style F1 %.4f, XFL-style F1 %.4f",
        overall.functions,
        overall.coverage,
        overall.symlm.f1,
        overall.xfl.f1,
    )
    return report
