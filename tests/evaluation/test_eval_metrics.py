"""Micro-averaged scores, exact match, coverage, synonyms, lemmas and breakdowns, checked against hand counts."""

from __future__ import annotations

import pytest

from binbridge.errors import ConfigError, InputError
from binbridge.evaluation import (
    BaselinePredictions,
    EvaluationConfig,
    PredictionRow,
    WordClusters,
    count_matches,
    evaluate,
    name_f1,
)
from binbridge.evaluation.results import VariantScores, WordCounts


def assert_counts(scores: VariantScores | WordCounts, tp: int, fp: int, fn: int) -> None:
    assert scores.true_positives == tp
    assert scores.false_positives == fp
    assert scores.false_negatives == fn


# Hand counts per row as (TP, FP, FN), true words vs predicted words:
#
# parseHTTPResponse / parse_response
#   SymLM-style {parse,http,response} vs {parse,response}       2,0,1
#   XFL-style   {parsehttpresponse} vs {parse,response}         0,2,1
# SSL_CTX_new / ssl_new_ctx_alloc
#   both        {ssl,ctx,new} vs {ssl,new,ctx,alloc}            3,1,0
# getURL2 / (empty)
#   SymLM-style {get,url} vs {}                                 0,0,2
#   XFL-style   {geturl} vs {}                                  0,0,1
# free_buffer / release
#   both        {free,buffer} vs {release}                      0,1,2
# foo.part.0 / foo
#   SymLM-style {foo,part} vs {foo}                             1,0,1
#   XFL-style   {foo} vs {foo}, exact match                     1,0,0
# XMLParser / xml_parser
#   SymLM-style {xml,parser} vs {xml,parser}, exact match       2,0,0
#   XFL-style   {xmlparser} vs {xml,parser}                     0,2,1
#
# SymLM-style sums: TP 8, FP 2, FN 6 -> P 8/10 = 0.8, R 8/14 = 4/7, F1 = 2/3.
# XFL-style sums:   TP 4, FP 6, FN 5 -> P 4/10 = 0.4, R 4/9, F1 = 2PR / (P + R) = 8/19.
# Exact matches: 1 of 6 in each variant. Coverage: 5 of 6 functions have a prediction.
ROWS = [
    PredictionRow("parseHTTPResponse", "parse_response", project="curl", opt_level="O0"),
    PredictionRow("SSL_CTX_new", "ssl_new_ctx_alloc", project="curl", opt_level="O2"),
    PredictionRow("getURL2", "", project="curl", opt_level="O0"),
    PredictionRow("free_buffer", "release", project="openssl", opt_level="O2"),
    PredictionRow("foo.part.0", "foo", project="openssl", opt_level="O0"),
    PredictionRow("XMLParser", "xml_parser", project="openssl", opt_level=None),
]


def test_overall_symlm_micro_average() -> None:
    symlm = evaluate(ROWS).overall.symlm

    assert_counts(symlm, 8, 2, 6)
    assert symlm.precision == pytest.approx(0.8)
    assert symlm.recall == pytest.approx(4 / 7)
    assert symlm.f1 == pytest.approx(2 / 3)


def test_overall_xfl_micro_average() -> None:
    xfl = evaluate(ROWS).overall.xfl

    assert_counts(xfl, 4, 6, 5)
    assert xfl.precision == pytest.approx(0.4)
    assert xfl.recall == pytest.approx(4 / 9)
    assert xfl.f1 == pytest.approx(8 / 19)


def test_exact_match_per_variant() -> None:
    overall = evaluate(ROWS).overall

    # SymLM-style: only XMLParser / xml_parser. XFL-style: only foo.part.0 / foo.
    assert overall.symlm.exact_matches == 1
    assert overall.xfl.exact_matches == 1
    assert overall.symlm.exact_match == pytest.approx(1 / 6)


def test_exact_match_needs_same_order() -> None:
    overall = evaluate([PredictionRow("read_file", "file_read")]).overall

    assert overall.symlm.true_positives == 2
    assert overall.symlm.exact_matches == 0


def test_coverage_counts_empty_and_blank() -> None:
    rows = [
        PredictionRow("open_file", "open_file"),
        PredictionRow("close_file", None),
        PredictionRow("read_file", ""),
        PredictionRow("write_file", "   "),
    ]
    overall = evaluate(rows).overall

    assert overall.predicted == 1
    assert overall.coverage == pytest.approx(0.25)
    # Missing predictions add only false negatives: 2 + 2 + 2 true words.
    assert overall.symlm.false_negatives == 6
    assert overall.symlm.false_positives == 0
    assert overall.symlm.precision == pytest.approx(1.0)
    assert overall.symlm.recall == pytest.approx(2 / 8)


def test_no_predictions_scores_zero() -> None:
    overall = evaluate([PredictionRow("open_file", None)]).overall

    assert overall.coverage == 0.0
    assert overall.symlm.precision == 0.0
    assert overall.symlm.f1 == 0.0
    assert overall.xfl.exact_matches == 0


def test_breakdown_by_project() -> None:
    by_project = evaluate(ROWS).by_project

    assert list(by_project) == ["curl", "openssl"]
    curl = by_project["curl"]
    # curl rows, SymLM-style: (2,0,1) + (3,1,0) + (0,0,2) = TP 5, FP 1, FN 3.
    # curl rows, XFL-style: (0,2,1) + (3,1,0) + (0,0,1) = TP 3, FP 3, FN 2.
    assert_counts(curl.symlm, 5, 1, 3)
    assert_counts(curl.xfl, 3, 3, 2)
    assert curl.coverage == pytest.approx(2 / 3)
    openssl = by_project["openssl"]
    # openssl rows: (0,1,2) + (1,0,1) + (2,0,0) = TP 3, FP 1, FN 3 -> P 0.75, R 0.5.
    assert openssl.symlm.precision == pytest.approx(0.75)
    assert openssl.symlm.recall == pytest.approx(0.5)
    assert openssl.coverage == pytest.approx(1.0)


def test_breakdown_by_opt_level() -> None:
    by_opt = evaluate(ROWS).by_opt_level

    assert list(by_opt) == ["(none)", "O0", "O2"]
    # O0 rows: (2,0,1) + (0,0,2) + (1,0,1) = TP 3, FP 0, FN 4.
    o0 = by_opt["O0"].symlm
    assert_counts(o0, 3, 0, 4)
    # O2 rows: (3,1,0) + (0,1,2) = TP 3, FP 2, FN 2.
    o2 = by_opt["O2"].symlm
    assert_counts(o2, 3, 2, 2)
    assert by_opt["(none)"].functions == 1


def test_breakdown_empty_without_values() -> None:
    report = evaluate([PredictionRow("open_file", "open")])

    assert report.by_project == {}
    assert report.by_opt_level == {}


def test_clusters_count_synonyms() -> None:
    clusters = WordClusters({"del": frozenset({"rm"}), "remove": frozenset({"rm"})})
    rows = [PredictionRow("remove_entry", "del_entry")]

    plain = evaluate(rows).overall.symlm
    synonyms = evaluate(rows, config=EvaluationConfig(word_clusters=clusters)).overall.symlm

    # Without clusters "del" is wrong and "remove" is missed: TP 1, FP 1, FN 1.
    assert_counts(plain, 1, 1, 1)
    # With clusters "del" matches "remove": TP 2, FP 0, FN 0.
    assert_counts(synonyms, 2, 0, 0)
    # Clusters never turn a different word list into an exact match.
    assert synonyms.exact_matches == 0


def test_clusters_one_word_matches_several() -> None:
    clusters = WordClusters({"delete": frozenset({"rm"}), "remove": frozenset({"rm"})})

    counts = count_matches(["remove", "item"], ["delete"], clusters)

    # "delete" is correct (TP 1) and finds "remove" through the shared cluster. "item" is missed (FN 1).
    assert_counts(counts, 1, 0, 1)


def test_clusters_do_not_change_xfl() -> None:
    clusters = WordClusters({"del": frozenset({"rm"}), "remove": frozenset({"rm"})})
    config = EvaluationConfig(word_clusters=clusters)
    xfl = evaluate([PredictionRow("remove_entry", "del_entry")], config=config).overall.xfl

    assert_counts(xfl, 1, 1, 1)


def test_lemmatize_off_and_on() -> None:
    rows = [PredictionRow("parse_entries", "parsing_entry")]

    off = evaluate(rows).overall.symlm
    on = evaluate(rows, config=EvaluationConfig(lemmatize=True)).overall.symlm

    # Off: {parse, entries} vs {parsing, entry} share nothing: TP 0, FP 2, FN 2.
    assert_counts(off, 0, 2, 2)
    # On: both become {pars, entry}: TP 2 and an exact match.
    assert_counts(on, 2, 0, 0)
    assert on.exact_matches == 1


def test_lemmatize_with_clusters() -> None:
    clusters = WordClusters({"remove": frozenset({"rm"}), "delete": frozenset({"rm"})})
    config = EvaluationConfig(lemmatize=True, word_clusters=clusters)

    symlm = evaluate([PredictionRow("removed", "deleting")], config=config).overall.symlm

    assert symlm.true_positives == 1
    assert symlm.false_positives == 0


def test_symlm_strip_decorations_option() -> None:
    rows = [PredictionRow("foo.part.0", "foo")]

    plain = evaluate(rows).overall.symlm
    stripped = evaluate(rows, config=EvaluationConfig(symlm_strip_decorations=True)).overall.symlm

    assert plain.false_negatives == 1
    assert stripped.false_negatives == 0
    assert stripped.exact_matches == 1


def test_baselines_scored_on_same_rows() -> None:
    rows = [PredictionRow("get_value", "get"), PredictionRow("set_value", None)]
    baseline = BaselinePredictions("constant", "always get_value", ["get_value", "get_value"])

    report = evaluate(rows, baselines=[baseline])

    scores = report.baselines[0].scores
    # Row 1: TP 2. Row 2: {set,value} vs {get,value}: TP 1, FP 1, FN 1.
    assert_counts(scores.symlm, 3, 1, 1)
    assert scores.coverage == 1.0


def test_baseline_length_mismatch_raises() -> None:
    baseline = BaselinePredictions("constant", "", ["get"])

    with pytest.raises(InputError, match="1 predictions for 2 rows"):
        evaluate([PredictionRow("a_b", "a"), PredictionRow("c_d", "c")], baselines=[baseline])


def test_name_f1_matches_evaluate() -> None:
    true_names = [row.true_name for row in ROWS]
    predicted = [row.predicted_name for row in ROWS]

    assert name_f1(true_names, predicted) == pytest.approx(2 / 3)
    assert name_f1([], []) == 0.0


def test_name_f1_length_mismatch() -> None:
    with pytest.raises(InputError, match="2 true names but 1 predicted"):
        name_f1(["a", "b"], ["a"])


def test_evaluate_rejects_bad_rows() -> None:
    with pytest.raises(InputError, match="no rows"):
        evaluate([])
    with pytest.raises(InputError, match="row 1 has an empty true name"):
        evaluate([PredictionRow("ok", "ok"), PredictionRow("  ", "x")])
    with pytest.raises(InputError, match="row 0 has opt_level=2, expected a string or None"):
        evaluate([PredictionRow("ok", "ok", opt_level=2)])
    with pytest.raises(InputError, match="row 0 has predicted_name=nan"):
        evaluate([PredictionRow("ok", float("nan"))])


@pytest.mark.parametrize(
    ("field", "value"),
    [("lemmatize", "yes"), ("symlm_strip_decorations", 1), ("xfl_min_token_length", 0), ("word_clusters", {"a": []})],
)
def test_config_rejects_invalid(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        EvaluationConfig(**{field: value})

    assert caught.value.field == field
    assert f"EvaluationConfig.{field}=" in str(caught.value)
