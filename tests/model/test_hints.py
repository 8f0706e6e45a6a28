"""Context hints: which imports and strings reach the decoder, and how rows of different hint lengths decode."""

import torch

from binbridge.model.config import PromptConfig
from binbridge.model.hints import find_hints
from binbridge.model.prompting import encode_target, instruction_ids
from tests.model.test_generation import make_model

ASSEMBLY = "\n".join([
    "push rbx",
    'lea rdi, [rip + "COLUMNS"]',
    "call <getenv@GLIBC_2.2.5>",
    "mov rdi, rax",
    "call <strtol>",
    "call FUNC",
    'lea rsi, [rip + "ignoring invalid width in environment variable COLUMNS: %s"]',
    "call <getenv>",
    'lea rdi, [rip + "COLUMNS"]',
    "call <__stack_chk_fail>",
    "pop rbx",
    "ret",
])


def test_hints_keep_distinct_imports_and_strings_in_order():
    hints = find_hints(ASSEMBLY)
    assert hints.imports == ("getenv", "strtol")
    assert hints.strings == ("COLUMNS", "ignoring invalid width in environment variable")
    assert hints.text() == ('Calls: getenv strtol\n'
                            'Strings: "COLUMNS" "ignoring invalid width in environment variable"\n')


def test_hints_empty_without_imports_or_strings():
    hints = find_hints("xor eax, eax\ncall FUNC\nmov qword ptr [rip + DATA], rax\nret")
    assert hints.imports == ()
    assert hints.strings == ()
    assert hints.text() == ""


def test_hint_limits_cap_each_list():
    assembly = "\n".join(f"call <import{i}>" for i in range(20))
    assembly += "\n" + "\n".join(f'lea rdi, [rip + "text {i}"]' for i in range(20))
    hints = find_hints(assembly, max_imports=3, max_strings=2)
    assert hints.imports == ("import0", "import1", "import2")
    assert hints.strings == ("text 0", "text 1")


def test_instruction_carries_hints_only_when_enabled(tiny_tokenizer):
    plain = instruction_ids(tiny_tokenizer, PromptConfig(), ASSEMBLY)
    assert plain == instruction_ids(tiny_tokenizer, PromptConfig())
    hinted = instruction_ids(tiny_tokenizer, PromptConfig(context_hints=True), ASSEMBLY)
    assert hinted[: len(plain)] == plain
    assert "getenv strtol" in tiny_tokenizer.decode(hinted[len(plain):])
    capped = instruction_ids(tiny_tokenizer, PromptConfig(context_hints=True, max_hint_tokens=3), ASSEMBLY)
    assert len(capped) == len(plain) + 3


def test_target_spans_ignore_the_hints(tiny_tokenizer):
    prompt = PromptConfig(context_hints=True)
    target = encode_target(tiny_tokenizer, prompt, "get_width", None, ASSEMBLY)
    prefix = instruction_ids(tiny_tokenizer, prompt, ASSEMBLY)
    assert target.input_ids[: len(prefix)] == prefix
    assert set(target.span_kinds[: len(prefix)]) == {0}
    assert set(target.span_kinds[len(prefix):]) == {2}


def test_generate_row_same_alone_or_padded(tiny_components):
    model = make_model(tiny_components, prompt=PromptConfig(context_hints=True)).eval()
    torch.manual_seed(0)
    features = torch.randn(2, 10, 32)
    mask = torch.ones(2, 10, dtype=torch.long)
    short, long = "xor eax, eax\nret", ASSEMBLY
    together = model.generate(features, mask, max_new_tokens=6, assemblies=[short, long])
    alone = model.generate(features[:1], mask[:1], max_new_tokens=6, assemblies=[short])
    assert together[0].raw_text == alone[0].raw_text
    assert abs(together[0].confidence - alone[0].confidence) < 1e-4
    hinted_alone = model.generate(features[1:], mask[1:], max_new_tokens=6, assemblies=[long])
    assert together[1].raw_text == hinted_alone[0].raw_text


def test_cut_string_never_ends_in_backslash():
    hints = find_hints('lea rdi, [rip + "' + "a" * 47 + '\\\\b"]')
    assert hints.strings == ("a" * 47,)
    assert hints.text().endswith('"\n')
