"""Batch inference over a dataset CSV: copy every row and add the predicted name."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from binbridge.binary import describe_binary, function_names
from binbridge.binary.members import member_file
from binbridge.data.schema import INFERENCE_COLUMNS, AtomicCsvWriter, iter_rows, read_header
from binbridge.errors import BinbridgeError
from binbridge.inference.predictor import PREFIX_AUTO, NamePredictor
from binbridge.inference.word_names import prefix_strings

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
    prefix taken from the ``binary`` column when the predictor's prefix is ``auto``: from the
    file's exports, strings and kind, as ``binbridge name`` does, where that file exists, else from its name),
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
    prefixes = _Prefixes(predictor, Path(input_path).parent)
    with AtomicCsvWriter(output_path, columns) as writer:
        chunk: list[dict] = []
        for row in iter_rows(input_path, INFERENCE_COLUMNS):
            chunk.append(row)
            if len(chunk) >= CHUNK_ROWS:
                count += _predict_chunk(predictor, prefixes, chunk, writer, show_analysis, show_progress)
                chunk = []
        if chunk:
            count += _predict_chunk(predictor, prefixes, chunk, writer, show_analysis, show_progress)
    if prefixes.unread:
        logger.warning("%d binary path(s) in %s not found or not readable (first: %s), so their library prefix "
                       "comes from the file name; run infer where extract ran, or fix the binary column",
                       len(prefixes.unread), input_path, sorted(prefixes.unread)[0])
    logger.info("wrote %d predictions to %s", count, output_path)
    return BatchInferenceResult(rows=count, output=str(output_path))


class _Prefixes:
    """The library prefix of each ``binary`` cell, each file read once.

    A relative path is looked up in the working folder, then beside the input CSV. A cell
    whose file cannot be read as a binary gets the prefix of its file name, and ``unread``
    collects such cells for one warning at the end.
    """

    def __init__(self, predictor: NamePredictor, csv_folder: Path) -> None:
        self.predictor = predictor
        self.csv_folder = csv_folder
        self.by_cell: dict[str, str | None] = {}
        self.by_file: dict[Path, str | None] = {}
        self.unreadable: set[Path] = set()
        self.unread: set[str] = set()

    def __call__(self, binary: str) -> str | None:
        if binary not in self.by_cell:
            self.by_cell[binary] = self._lookup(binary)
        return self.by_cell[binary]

    def _lookup(self, binary: str) -> str | None:
        if self.predictor.word_namer is None:
            return None  # only the name-word model writes a prefix
        if self.predictor.prefix != PREFIX_AUTO or not binary:
            return self.predictor.prefix_for(binary or None)
        path = self._find(member_file(binary))  # an archive member's rows name it "lib.a:member.o"
        if path is not None and path not in self.by_file:
            self.by_file[path] = self._read(path)
        if path is None or path in self.unreadable:
            self.unread.add(binary)
            return self.predictor.prefix_for(binary)
        return self.by_file[path]

    def _find(self, cell: str) -> Path | None:
        for path in (Path(cell), self.csv_folder / cell):
            try:
                if path.is_file():
                    return path
            except OSError:  # a name too long, a folder without search permission
                continue
        return None

    def _read(self, path: Path) -> str | None:
        try:
            info = describe_binary(path)
            names = function_names(path)
            return self.predictor.prefix_for(path, info.soname, info.kind, names, prefix_strings(path, names))
        except (BinbridgeError, OSError) as error:  # the column names a file that is no binary
            logger.info("prefix from the file name of %s: %s", path, error)
            self.unreadable.add(path)
            return None


def _predict_chunk(predictor, prefixes, chunk, writer, show_analysis, show_progress) -> int:
    generated = predictor.predict([row["assembly"] or "" for row in chunk], show_progress=show_progress,
                                  prefixes=[prefixes(row.get("binary") or "") for row in chunk])
    for row, prediction in zip(chunk, generated):
        row["predicted_name"] = prediction.name or ""
        row["confidence"] = f"{prediction.confidence:.4f}"
        row["name_source"] = prediction.source
        if show_analysis:
            row["predicted_analysis"] = prediction.analysis
        writer.write(row)
    return len(chunk)
