"""Write an ``EvaluationReport`` as ``report.md``, ``report.json`` and a PNG chart of F1 per project."""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from binbridge.errors import InputError
from binbridge.evaluation.markdown import render_markdown
from binbridge.evaluation.results import VARIANT_TITLES, VARIANTS, EvaluationReport

logger = logging.getLogger(__name__)

MARKDOWN_FILE = "report.md"
JSON_FILE = "report.json"
CHART_FILE = "f1_by_project.png"
REPORT_FILE_MODE = 0o644


@dataclass(frozen=True)
class ReportFiles:
    """Paths of the files that ``write_report`` wrote."""

    markdown: Path
    json: Path
    chart: Path


def write_report(report: EvaluationReport, out_dir: str | os.PathLike[str]) -> ReportFiles:
    """Write ``report.md``, ``report.json`` and ``f1_by_project.png`` into ``out_dir``, creating it if needed.

    All three files are rendered in memory first and then each is written to a
    temporary file and moved into place with ``os.replace``, so a failure never
    leaves a partly written file. Existing files of the same names are overwritten.
    Raises ``InputError`` when ``out_dir`` cannot be created or written.
    """
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            folder, f"failed to create the output folder: {error.strerror}", "choose a writable folder"
        ) from None

    contents = {
        MARKDOWN_FILE: render_markdown(report, CHART_FILE).encode("utf-8"),
        JSON_FILE: (json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n").encode("utf-8"),
        CHART_FILE: render_f1_chart(report),
    }
    _write_all_atomically(folder, contents)

    files = ReportFiles(folder / MARKDOWN_FILE, folder / JSON_FILE, folder / CHART_FILE)
    logger.info("Wrote evaluation report to %s", folder)
    return files


def render_f1_chart(report: EvaluationReport) -> bytes:
    """Return PNG bytes of a grouped bar chart of F1 per project for both variants.

    Without a project breakdown the chart has one group with the overall scores.
    """
    # Imported here so that importing binbridge.evaluation (e.g. for name_f1) stays cheap.
    # The Agg canvas renders without a display and leaves pyplot's global state alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if report.by_project:
        labels = list(report.by_project)
        groups = list(report.by_project.values())
    else:
        labels = ["all functions"]
        groups = [report.overall]

    width = min(40.0, max(6.0, 0.6 * len(labels) + 2.0))
    figure = Figure(figsize=(width, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()

    bar_width = 0.8 / len(VARIANTS)
    positions = range(len(labels))
    for offset, variant in enumerate(VARIANTS):
        values = [group.variant(variant).f1 for group in groups]
        shifted = [position + (offset - (len(VARIANTS) - 1) / 2) * bar_width for position in positions]
        axes.bar(shifted, values, width=bar_width, label=VARIANT_TITLES[variant])

    axes.set_xticks(list(positions))
    axes.set_xticklabels(labels, rotation=45 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center")
    axes.set_ylim(0.0, 1.0)
    axes.set_ylabel("F1 (micro-averaged)")
    axes.set_title("F1 per project\n(SymLM-style and XFL-style scores are not comparable)", fontsize=10)
    axes.legend()
    figure.tight_layout()

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _write_all_atomically(folder: Path, contents: dict[str, bytes]) -> None:
    """Write every file to a temporary file in ``folder``, then move each into place.

    NOTE: if a later ``os.replace`` fails after an earlier one succeeded, the folder
    contains a mix of new and old complete files. No file is ever partly written.
    """
    pending: list[tuple[str, Path]] = []
    try:
        for name, data in contents.items():
            descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            pending.append((temporary, folder / name))
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            # mkstemp creates files readable only by the owner, but reports are meant to be shared.
            os.chmod(temporary, REPORT_FILE_MODE)
        while pending:
            temporary, final = pending[0]
            os.replace(temporary, final)
            pending.pop(0)
    except OSError as error:
        for temporary, _ in pending:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
        raise InputError(folder, f"failed to write the report: {error}", "check free space and permissions") from None
