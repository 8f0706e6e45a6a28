"""Read prediction and training-name CSV files for evaluation."""

from __future__ import annotations

import csv
import logging
import os
import sys
from collections.abc import Iterator

from binbridge.errors import DatasetError, InputError
from binbridge.evaluation.metrics import PredictionRow

logger = logging.getLogger(__name__)

TRUE_NAME_COLUMN = "function_name"
PREDICTED_NAME_COLUMN = "predicted_name"
PROJECT_COLUMN = "project"
OPT_LEVEL_COLUMN = "opt_level"

# Prediction files from binbridge infer carry assembly cells far above csv's 128 KiB default.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def load_predictions(path: str | os.PathLike[str]) -> list[PredictionRow]:
    """Read a predictions CSV into rows for ``evaluate``.

    The file needs a header with ``function_name`` (the true name) and
    ``predicted_name`` columns. Optional ``project`` and ``opt_level`` columns fill the
    breakdowns, and other columns are ignored. Empty ``predicted_name``, ``project`` and
    ``opt_level`` cells mean no value.
    Raises ``InputError`` when the file is missing or unreadable, and ``DatasetError``
    when required columns are missing, a row has the wrong number of fields or an
    empty ``function_name``, or the file has no data rows.
    """
    rows: list[PredictionRow] = []
    for line, record in _read_csv(path, required=(TRUE_NAME_COLUMN, PREDICTED_NAME_COLUMN)):
        true_name = record[TRUE_NAME_COLUMN].strip()
        if not true_name:
            raise DatasetError(
                path, f"line {line} has an empty {TRUE_NAME_COLUMN}", "fill in the true name or drop the row"
            )
        rows.append(
            PredictionRow(
                true_name=true_name,
                predicted_name=_optional(record.get(PREDICTED_NAME_COLUMN)),
                project=_optional(record.get(PROJECT_COLUMN)),
                opt_level=_optional(record.get(OPT_LEVEL_COLUMN)),
            )
        )

    if not rows:
        raise DatasetError(path, "the file has a header but no data rows", "add one row per evaluated function")
    logger.info("Read %d predictions from %s", len(rows), os.fspath(path))
    return rows


def load_train_names(path: str | os.PathLike[str]) -> list[str]:
    """Read the true names of the training functions from the ``function_name`` column of a CSV.

    Raises ``InputError`` when the file is missing or unreadable, and ``DatasetError``
    when the column is missing, a row is malformed or has an empty name, or the file
    has no data rows.
    """
    names: list[str] = []
    for line, record in _read_csv(path, required=(TRUE_NAME_COLUMN,)):
        name = record[TRUE_NAME_COLUMN].strip()
        if not name:
            raise DatasetError(path, f"line {line} has an empty {TRUE_NAME_COLUMN}", "fill in the name or drop the row")
        names.append(name)

    if not names:
        raise DatasetError(path, "the file has a header but no data rows", "add one row per training function")
    return names


def _read_csv(path: str | os.PathLike[str], required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line number, record)`` per data row after checking the header for ``required`` columns."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, "file not found", "check the path") from None
    except OSError as error:
        raise InputError(path, f"failed to open file: {error.strerror}", "check the path and its permissions") from None

    with handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DatasetError(
                    path, "the file is empty", f"write a header row with the columns {', '.join(required)}"
                )
            columns = [column.strip() for column in header]
            missing = [column for column in required if column not in columns]
            if missing:
                raise DatasetError(
                    path,
                    f"missing required column(s) {', '.join(missing)} (found: {', '.join(columns) or 'none'})",
                    f"add the column(s) {', '.join(missing)} to the header row",
                )

            for fields in reader:
                if not fields:
                    continue
                if len(fields) != len(columns):
                    raise DatasetError(
                        path,
                        f"line {reader.line_num} has {len(fields)} fields but the header has {len(columns)}",
                        "quote fields that contain commas and give every row one value per column",
                    )
                yield reader.line_num, dict(zip(columns, fields))
        except csv.Error as error:
            raise DatasetError(path, f"invalid CSV near line {reader.line_num}: {error}", "check the quoting") from None
        except UnicodeDecodeError as error:
            raise DatasetError(path, f"the file is not valid UTF-8: {error.reason}", "save the file as UTF-8") from None


def _optional(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return value.strip()
