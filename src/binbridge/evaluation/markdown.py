"""Render an ``EvaluationReport`` as a Markdown document."""

from __future__ import annotations

from collections.abc import Sequence

from binbridge.evaluation.results import (
    VARIANT_DESCRIPTIONS,
    VARIANT_TITLES,
    VARIANTS,
    VARIANTS_NOT_COMPARABLE,
    EvaluationReport,
    GroupScores,
)


def render_markdown(report: EvaluationReport, chart_file: str) -> str:
    """Return the Markdown text of ``report``, linking the chart at ``chart_file`` (relative to the document)."""
    lines: list[str] = ["# Binbridge function-name evaluation", ""]
    lines += _settings_section(report)
    lines += _overall_section(report.overall)
    lines += _exact_match_section(report.overall)
    lines += _coverage_section(report.overall)
    lines += _breakdown_section("By project", "Project", "No row has a project.", report.by_project)
    lines += _breakdown_section(
        "By optimisation level", "Optimisation level", "No row has an optimisation level.", report.by_opt_level
    )
    lines += _baselines_section(report)
    lines += ["## F1 per project", "", f"![F1 per project for both variants]({chart_file})", ""]
    return "\n".join(lines)


def _settings_section(report: EvaluationReport) -> list[str]:
    config = report.config.to_dict()
    lines = []
    if report.source is not None:
        lines.append(f"Predictions: `{report.source}`")
        lines.append("")
    lines += [
        f"Settings: lemmatisation {'on' if config['lemmatize'] else 'off'}, "
        f"word clusters {_escape(str(config['word_clusters'])) if config['word_clusters'] else 'none'}, "
        f"SymLM-style decoration stripping {'on' if config['symlm_strip_decorations'] else 'off'}, "
        f"XFL-style minimum word length {config['xfl_min_token_length']}.",
        "",
        f"**{VARIANTS_NOT_COMPARABLE}**",
        "",
    ]
    for variant in VARIANTS:
        lines.append(f"- **{VARIANT_TITLES[variant]}**: {VARIANT_DESCRIPTIONS[variant]}.")
    lines.append("")
    return lines


def _overall_section(overall: GroupScores) -> list[str]:
    lines = [
        "## Overall word-level scores (micro-averaged)",
        "",
        "| Variant | Precision | Recall | F1 | TP | FP | FN |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        scores = overall.variant(variant)
        lines.append(
            f"| {scores.title} | {_score(scores.precision)} | {_score(scores.recall)} | {_score(scores.f1)} "
            f"| {scores.true_positives} | {scores.false_positives} | {scores.false_negatives} |"
        )
    lines.append("")
    return lines


def _exact_match_section(overall: GroupScores) -> list[str]:
    lines = [
        "## Exact match",
        "",
        "A function matches exactly when it has a prediction and the ordered word lists of the variant are equal.",
        "",
        "| Variant | Exact matches | Functions | Exact match |",
        "|---|---|---|---|",
    ]
    for variant in VARIANTS:
        scores = overall.variant(variant)
        lines.append(
            f"| {scores.title} | {scores.exact_matches} | {scores.functions} | {_percent(scores.exact_match)} |"
        )
    lines.append("")
    return lines


def _coverage_section(overall: GroupScores) -> list[str]:
    return [
        "## Coverage",
        "",
        "Coverage is the fraction of functions with a non-empty predicted name. It is the same for both variants.",
        "",
        "| Functions | With a prediction | Coverage |",
        "|---|---|---|",
        f"| {overall.functions} | {overall.predicted} | {_percent(overall.coverage)} |",
        "",
    ]


def _breakdown_section(title: str, key_label: str, empty_note: str, groups: dict[str, GroupScores]) -> list[str]:
    lines = [f"## {title}", ""]
    if not groups:
        return lines + [empty_note, ""]

    lines += [_group_header(key_label, ["Functions", "Coverage"]), _separator(3 + 4 * len(VARIANTS))]
    for key, scores in groups.items():
        cells = [_escape(key), str(scores.functions), _percent(scores.coverage)]
        lines.append(_row(cells + _variant_cells(scores)))
    lines.append("")
    return lines


def _baselines_section(report: EvaluationReport) -> list[str]:
    if not report.baselines:
        return []
    lines = [
        "## Baselines",
        "",
        "Each baseline is scored on the same functions as the predictions above.",
        "",
        _group_header("Baseline", ["Description"]),
        _separator(2 + 4 * len(VARIANTS)),
    ]
    for baseline in report.baselines:
        cells = [_escape(baseline.name), _escape(baseline.description)]
        lines.append(_row(cells + _variant_cells(baseline.scores)))
    lines.append("")
    return lines


def _group_header(key_label: str, extra: Sequence[str]) -> str:
    cells = [key_label, *extra]
    for variant in VARIANTS:
        title = VARIANT_TITLES[variant]
        cells += [f"{title} precision", f"{title} recall", f"{title} F1", f"{title} exact match"]
    return _row(cells)


def _variant_cells(scores: GroupScores) -> list[str]:
    cells = []
    for variant in VARIANTS:
        variant_scores = scores.variant(variant)
        cells += [
            _score(variant_scores.precision),
            _score(variant_scores.recall),
            _score(variant_scores.f1),
            _percent(variant_scores.exact_match),
        ]
    return cells


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _separator(columns: int) -> str:
    return "|" + "---|" * columns


def _score(value: float) -> str:
    return f"{value:.4f}"


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _escape(text: str) -> str:
    """Escape characters that would break a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
