"""Batch inference over a dataset CSV: copy every row and add the predicted name."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from binbridge.data.schema import INFERENCE_COLUMNS, AtomicCsvWriter, iter_rows, read_header
from binbridge.inference.predictor import NamePredictor

logger = logging.getLogger(__name__)

CHUNK_ROWS = 1024


@dataclass
class BatchInferenceResult:
    rows: int
    output: str


def infer_csv(predictor: NamePredictor, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str],
              *, show_analysis: bool = False, show_progress: bool = False) -> BatchInferenceResult:
    """Write ``output_path``: the input rows plus ``predicted_name``, ``confidence`` and ``name_source``.

    ``name_source`` is ``words`` for names from the name-word model (with the library
    prefix taken from the ``binary`` column when the predictor's prefix is ``auto``),
    ``model`` for decoded names, ``signature`` for known functions
    (``binbridge.data.signatures``) and ``string`` for names read from the function's
    ``__func__`` strings (``binbridge.inference.string_names``).

    With ``show_analysis`` a ``predicted_analysis`` column contains the decoder's analysis text.
    Rows are processed in chunks, so memory does not grow with the file.
    """
    header = read_header(input_path, INFERENCE_COLUMNS)
    added = ["predicted_name", "confidence", "name_source"] + (["predicted_analysis"] if show_analysis else [])
    columns = header + [c for c in added if c not in header]
    count = 0
    with AtomicCsvWriter(output_path, columns) as writer:
        chunk: list[dict] = []
        for row in iter_rows(input_path, INFERENCE_COLUMNS):
            chunk.append(row)
            if len(chunk) >= CHUNK_ROWS:
                count += _predict_chunk(predictor, chunk, writer, show_analysis, show_progress)
                chunk = []
        if chunk:
            count += _predict_chunk(predictor, chunk, writer, show_analysis, show_progress)
    logger.info("wrote %d predictions to %s", count, output_path)
    return BatchInferenceResult(rows=count, output=str(output_path))


def _predict_chunk(predictor, chunk, writer, show_analysis, show_progress) -> int:
    prefixes = [predictor.prefix_for(row.get("binary") or None) for row in chunk]
    generated = predictor.predict([row["assembly"] or "" for row in chunk], show_progress=show_progress,
                                  prefixes=prefixes)
    for row, prediction in zip(chunk, generated):
        row["predicted_name"] = prediction.name or ""
        row["confidence"] = f"{prediction.confidence:.4f}"
        row["name_source"] = prediction.source
        if show_analysis:
            row["predicted_analysis"] = prediction.analysis
        writer.write(row)
    return len(chunk)
