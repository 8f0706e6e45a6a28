"""Dataset CSV schema: one row per function (see docs/data-format.md)."""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from binbridge.errors import DatasetError
from binbridge.outputs import atomic_output

REQUIRED_COLUMNS = ("function_name", "assembly", "binary", "address", "size", "arch", "project", "opt_level")
OPTIONAL_COLUMNS = ("source_code", "cot", "clone_suffix", "callees")
# Columns needed to run a model on a row; naming needs no ground truth.
INFERENCE_COLUMNS = ("assembly",)

# Assembly and source cells are far larger than csv's 128 KiB default field limit.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class FunctionRecord:
    function_name: str
    assembly: str
    binary: str
    address: str
    size: int
    arch: str
    project: str
    opt_level: str
    source_code: str = ""
    cot: str = ""
    clone_suffix: str = ""
    callees: str = ""

    @classmethod
    def from_row(cls, row: dict[str, str], path: str, line: int) -> "FunctionRecord":
        try:
            size = int(row.get("size") or 0)
        except ValueError as error:
            raise DatasetError(path, f"row {line}: size={row.get('size')!r} is not an integer",
                               "write the function size in bytes") from error
        values = {f.name: row.get(f.name) or "" for f in fields(cls)}
        values["size"] = size
        return cls(**values)


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise DatasetError(path, "file not found", "check the path")
    if path.is_dir():
        raise DatasetError(path, "is a directory, not a CSV file", "pass a CSV file")
    if not path.is_file():
        raise DatasetError(path, "is not a regular file (a FIFO, socket or device)", "pass a CSV file")


def read_header(path: str | os.PathLike[str], required: Iterable[str] = REQUIRED_COLUMNS) -> list[str]:
    """Return the header of a CSV file after checking that every required column is present."""
    path = Path(path)
    _check_readable(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as error:
        raise DatasetError(path, f"not UTF-8 text ({error.reason} at byte {error.start})",
                           "pass a UTF-8 CSV file") from error
    except csv.Error as error:
        raise DatasetError(path, f"invalid CSV: {error}", "pass a CSV file with a header row") from error
    if not header:
        raise DatasetError(path, "empty file, no header row", "pass a CSV file with a header row")
    missing = [column for column in required if column not in header]
    if missing:
        raise DatasetError(path, f"missing required column(s): {', '.join(missing)}",
                           f"the header must contain {', '.join(required)} (see docs/data-format.md)")
    return header


def iter_rows(path: str | os.PathLike[str], required: Iterable[str] = REQUIRED_COLUMNS) -> Iterator[dict[str, str]]:
    """Yield the rows of a CSV file as dicts, after checking the header."""
    read_header(path, required)
    # utf-8-sig drops a byte order mark, which spreadsheet programs often write.
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        try:
            yield from csv.DictReader(handle)
        except csv.Error as error:
            raise DatasetError(path, f"invalid CSV: {error}", "fix or regenerate the file") from error
        except UnicodeDecodeError as error:
            raise DatasetError(path, f"not UTF-8 text ({error.reason})", "pass a UTF-8 CSV file") from error


def read_dataset(path: str | os.PathLike[str]) -> list[FunctionRecord]:
    """Read a dataset CSV with every required column into records."""
    records = []
    for line, row in enumerate(iter_rows(path), start=2):
        records.append(FunctionRecord.from_row(row, str(path), line))
    return records


# Characters that make csv's default ("excel") dialect quote a field.
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def csv_line(values: Iterable[object]) -> str:
    """Format one row as csv.writer does with the default dialect (QUOTE_MINIMAL, CRLF).

    csv.writer inspects the characters of every field one by one. For
    extraction's long assembly cells that took about as long as disassembling
    them, so a regex search and str.replace do the same work in C.
    """
    # NOTE: a NUL character is written as is, as Python 3.11's csv.writer does; Python 3.10's writer
    # raises on it instead, and its reader rejects such a file.
    fields = ["" if value is None else str(value) for value in values]
    if len(fields) == 1 and not fields[0]:
        return '""\r\n'  # csv.writer quotes a lone empty field, so the row is not read back as empty
    return ",".join('"' + field.replace('"', '""') + '"' if _NEEDS_QUOTES.search(field) else field
                    for field in fields) + "\r\n"


class AtomicCsvWriter:
    """CSV writer that writes to a temp file and renames it over ``path`` only on success.

    Used as a context manager: an exception inside the block deletes the temp
    file, so no half-written output is ever left at ``path``. Columns missing
    from a row are written empty and keys that are not columns are ignored.
    """

    def __init__(self, path: str | os.PathLike[str], columns: Iterable[str]) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        if self.path.is_dir():
            raise DatasetError(self.path, "output path is a directory", "pass a file path for the output")
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            raise DatasetError(self.path, f"output folder {parent} does not exist", "create it first")

    def __enter__(self) -> "AtomicCsvWriter":
        self._output = atomic_output(self.path)
        self._handle = self._output.__enter__()
        self._handle.write(csv_line(self.columns))
        return self

    def write(self, row: dict) -> None:
        self._handle.write(csv_line([row.get(column, "") for column in self.columns]))

    def write_text(self, text: str) -> None:
        """Write rows that ``csv_line`` has already formatted (worker processes format them in parallel)."""
        self._handle.write(text)

    def __exit__(self, exc_type, exc, tb) -> bool | None:
        return self._output.__exit__(exc_type, exc, tb)


def write_dataset(path: str | os.PathLike[str], records: Iterable[FunctionRecord]) -> None:
    columns = list(REQUIRED_COLUMNS) + list(OPTIONAL_COLUMNS)
    with AtomicCsvWriter(path, columns) as writer:
        for record in records:
            writer.write(asdict(record))
