import pytest

from binbridge.model.config import PromptConfig
from binbridge.model.loss import SPAN_ANALYSIS, SPAN_IGNORE, SPAN_NAME
from binbridge.model.prompting import encode_target, parse_output, sanitize_identifier


@pytest.mark.parametrize("text, expected", [
    ("parse_config", "parse_config"),
    ("  parse-config!! ", "parse_config"),
    ("2fast", "f_2fast"),
    ("a__b", "a_b"),
    ("...", None),
    ("", None),
])
def test_sanitize_identifier(text, expected):
    assert sanitize_identifier(text) == expected


def test_parse_output_drops_analysis():
    parsed = parse_output("Analysis: reads a file\nName: read_file", PromptConfig())
    assert parsed.name == "read_file"
    assert parsed.analysis == "reads a file"


def test_parse_output_without_marker():
    assert parse_output("get_value", PromptConfig()).name == "get_value"


def test_parse_output_takes_first_word_after_marker():
    assert parse_output("Name: open_file extra words\nmore", PromptConfig()).name == "open_file"


def test_encode_target_spans(tiny_tokenizer):
    prompt = PromptConfig()
    target = encode_target(tiny_tokenizer, prompt, "parse_config", "reads a file")
    kinds = target.span_kinds
    assert len(kinds) == len(target.input_ids)
    assert kinds[0] == SPAN_IGNORE, "the instruction carries no loss"
    first_analysis = kinds.index(SPAN_ANALYSIS)
    first_name = kinds.index(SPAN_NAME)
    assert first_analysis < first_name
    assert set(kinds[first_name:]) == {SPAN_NAME}
    assert target.input_ids[-1] == tiny_tokenizer.eos_token_id
    decoded = tiny_tokenizer.decode(target.input_ids[first_name:], skip_special_tokens=True)
    assert decoded.strip() == "Name: parse_config"


def test_encode_target_without_analysis(tiny_tokenizer):
    target = encode_target(tiny_tokenizer, PromptConfig(), "f", None)
    assert SPAN_ANALYSIS not in target.span_kinds


def test_sanitized_names_are_capped():
    name = sanitize_identifier("x" * 5000)
    assert len(name) == 64
    assert sanitize_identifier("a_" * 100).endswith("a")
