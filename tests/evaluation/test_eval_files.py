"""Predictions CSV, cluster file, report files and the ``run_eval`` entry point."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from binbridge.errors import DatasetError, InputError
from binbridge.evaluation import (
    PredictionRow,
    evaluate,
    load_predictions,
    load_train_names,
    load_word_clusters,
    run_eval,
    write_report,
)
from binbridge.evaluation import report as report_module

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_load_predictions_reads_columns(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "predictions.csv",
        "function_name,predicted_name,project,opt_level,address\n"
        "parseHTTPResponse,parse_response,curl,O2,0x1000\n"
        "getURL2,,curl,,0x2000\n",
    )

    rows = load_predictions(path)

    assert rows == [
        PredictionRow("parseHTTPResponse", "parse_response", "curl", "O2"),
        PredictionRow("getURL2", None, "curl", None),
    ]


def test_load_predictions_without_optional_columns(tmp_path: Path) -> None:
    path = write_text(tmp_path / "predictions.csv", "predicted_name,function_name\nfoo,foo_bar\n")

    assert load_predictions(path) == [PredictionRow("foo_bar", "foo")]


def test_load_predictions_missing_both_columns(tmp_path: Path) -> None:
    path = write_text(tmp_path / "predictions.csv", "name,guess\nfoo,foo\n")

    with pytest.raises(DatasetError) as caught:
        load_predictions(path)

    message = str(caught.value)
    assert message.startswith(str(path))
    assert "function_name" in message
    assert "predicted_name" in message


def test_load_predictions_missing_one_column(tmp_path: Path) -> None:
    path = write_text(tmp_path / "predictions.csv", "function_name,project\nfoo,curl\n")

    with pytest.raises(DatasetError, match="missing required column.s. predicted_name "):
        load_predictions(path)


def test_load_predictions_bad_rows(tmp_path: Path) -> None:
    short = write_text(tmp_path / "short.csv", "function_name,predicted_name\nfoo,foo\nbar\n")
    empty_truth = write_text(tmp_path / "empty.csv", "function_name,predicted_name\n,foo\n")
    header_only = write_text(tmp_path / "header.csv", "function_name,predicted_name\n")
    empty_file = write_text(tmp_path / "blank.csv", "")

    with pytest.raises(DatasetError, match="line 3 has 1 fields but the header has 2"):
        load_predictions(short)
    with pytest.raises(DatasetError, match="line 2 has an empty function_name"):
        load_predictions(empty_truth)
    with pytest.raises(DatasetError, match="no data rows"):
        load_predictions(header_only)
    with pytest.raises(DatasetError, match="file is empty"):
        load_predictions(empty_file)


def test_load_predictions_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_predictions(tmp_path / "absent.csv")


def test_load_train_names(tmp_path: Path) -> None:
    path = write_text(tmp_path / "train.csv", "function_name\nget_value\nset_value\n")

    assert load_train_names(path) == ["get_value", "set_value"]


def test_load_word_clusters(tmp_path: Path) -> None:
    path = write_text(tmp_path / "clusters.json", json.dumps({"Del": ["rm"], "remove": ["rm", 3]}))

    clusters = load_word_clusters(path)

    assert clusters.clusters["del"] == frozenset({"rm"})
    assert clusters.clusters["remove"] == frozenset({"rm", "3"})
    assert clusters.source == str(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1, 2]", "expected a JSON object"),
        ('{"del": "rm"}', "'del' is str, expected a list"),
        ('{"del": [1.5]}', "cluster id 1.5 of 'del'"),
        ('{"del": [true]}', "cluster id True of 'del'"),
        ('{"del": [', "invalid JSON at line 1"),
    ],
)
def test_load_word_clusters_rejects(tmp_path: Path, text: str, problem: str) -> None:
    path = write_text(tmp_path / "clusters.json", text)

    with pytest.raises(InputError) as caught:
        load_word_clusters(path)

    assert problem in str(caught.value)


def make_report():
    rows = [
        PredictionRow("parseHTTPResponse", "parse_response", project="curl", opt_level="O0"),
        PredictionRow("SSL_CTX_new", "ssl_new", project="open|ssl", opt_level="O2"),
        PredictionRow("getURL2", None, project="curl", opt_level="O2"),
    ]
    return evaluate(rows, source="predictions.csv")


def read_png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_write_report_files(tmp_path: Path) -> None:
    files = write_report(make_report(), tmp_path / "out")

    assert files.markdown.is_file()
    assert files.json.is_file()
    width, height = read_png_size(files.chart)
    assert width > 0
    assert height > 0


def test_write_report_markdown_content(tmp_path: Path) -> None:
    markdown = write_report(make_report(), tmp_path).markdown.read_text(encoding="utf-8")

    assert "| SymLM-style |" in markdown
    assert "| XFL-style |" in markdown
    assert "compare each only with the same variant" in markdown
    assert "## Exact match" in markdown
    assert "## Coverage" in markdown
    assert "| 3 | 2 | 66.7% |" in markdown
    assert "| curl |" in markdown
    assert "open\\|ssl" in markdown
    assert "| O2 |" in markdown
    assert "f1_by_project.png" in markdown
    assert "## Baselines" not in markdown


def test_write_report_json_content(tmp_path: Path) -> None:
    data = json.loads(write_report(make_report(), tmp_path).json.read_text(encoding="utf-8"))

    assert data["overall"]["functions"] == 3
    assert data["overall"]["symlm"]["title"] == "SymLM-style"
    assert data["overall"]["xfl"]["title"] == "XFL-style"
    # SymLM-style: (2,0,1) + (2,0,1) + (0,0,2) = TP 4, FP 0, FN 4.
    assert data["overall"]["symlm"]["recall"] == pytest.approx(0.5)
    assert set(data["by_project"]) == {"curl", "open|ssl"}
    assert data["source"] == "predictions.csv"


def test_write_report_render_error_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(report):
        raise RuntimeError("chart failed")

    monkeypatch.setattr(report_module, "render_f1_chart", fail)

    with pytest.raises(RuntimeError):
        write_report(make_report(), tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_write_report_removes_temporary_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_replace(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_module.os, "replace", fail_replace)

    with pytest.raises(InputError, match="failed to write the report"):
        write_report(make_report(), tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_run_eval_end_to_end(tmp_path: Path) -> None:
    predictions = write_text(
        tmp_path / "predictions.csv",
        "function_name,predicted_name,project,opt_level\n"
        "remove_entry,del_entry,curl,O0\n"
        "get_value,get_value,zlib,O2\n"
        "set_value,,zlib,O2\n",
    )
    clusters = write_text(tmp_path / "clusters.json", '{"del": ["rm"], "remove": ["rm"]}')
    out_dir = tmp_path / "report"

    report = run_eval(predictions, out_dir, word_clusters=clusters, train_data=["get_value", "get_name", "set_value"])

    # SymLM-style with clusters: (2,0,0) + (2,0,0) + (0,0,2) -> TP 4, FP 0, FN 2.
    assert report.overall.symlm.recall == pytest.approx(4 / 6)
    assert report.overall.coverage == pytest.approx(2 / 3)
    assert [baseline.name for baseline in report.baselines] == ["most frequent words"]
    assert (out_dir / "report.md").is_file()
    assert "## Baselines" in (out_dir / "report.md").read_text(encoding="utf-8")
    assert read_png_size(out_dir / "f1_by_project.png")[0] > 0
    assert json.loads((out_dir / "report.json").read_text(encoding="utf-8"))["config"]["word_clusters"] == str(clusters)


def test_write_report_without_breakdowns(tmp_path: Path) -> None:
    report = evaluate([PredictionRow("open_file", "open")])

    files = write_report(report, tmp_path)

    markdown = files.markdown.read_text(encoding="utf-8")
    assert "No row has a project." in markdown
    assert "No row has an optimisation level." in markdown
    assert read_png_size(files.chart)[0] > 0
