"""Decoder text layout: instruction, optional analysis, then the name.

Training sequence (after the soft prompt):

    <bos> instruction [hints] | "Analysis: " text "\\n" | "Name: " name <eos>
      SPAN_IGNORE               SPAN_ANALYSIS            SPAN_NAME

The hints (imports and strings of the function, see ``hints.py``) are written
only when ``PromptConfig.context_hints`` is on.

Pieces are tokenised separately and concatenated, so span boundaries are exact
and inference can feed the same instruction ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from binbridge.model.config import PromptConfig
from binbridge.model.hints import find_hints
from binbridge.model.loss import SPAN_ANALYSIS, SPAN_IGNORE, SPAN_NAME

_INVALID_IDENTIFIER_CHARS = re.compile(r"[^A-Za-z0-9_]+")
_REPEATED_UNDERSCORES = re.compile(r"_{2,}")


@dataclass
class EncodedTarget:
    input_ids: list[int]
    span_kinds: list[int]


@dataclass
class ParsedOutput:
    """Decoder output split into its parts; ``name`` is None when no name was written."""

    name: str | None
    analysis: str
    raw_text: str


def instruction_ids(tokenizer, prompt: PromptConfig, assembly: str | None = None) -> list[int]:
    """Token ids of the text between the soft prompt and the answer.

    With ``prompt.context_hints`` on, the hints found in ``assembly`` follow the
    instruction, cut to ``prompt.max_hint_tokens`` tokens.
    """
    ids = tokenizer.encode(prompt.instruction, add_special_tokens=False)
    if tokenizer.bos_token_id is not None:
        ids = [tokenizer.bos_token_id] + ids
    if prompt.context_hints and assembly:
        hint_text = find_hints(assembly).text()
        if hint_text:
            ids += tokenizer.encode(hint_text, add_special_tokens=False)[: prompt.max_hint_tokens]
    return ids


def encode_target(tokenizer, prompt: PromptConfig, name: str, analysis: str | None,
                  assembly: str | None = None) -> EncodedTarget:
    """Tokenise instruction (+ hints from ``assembly``) + optional analysis + name, with a span kind per token."""
    prefix = instruction_ids(tokenizer, prompt, assembly)
    ids = list(prefix)
    kinds = [SPAN_IGNORE] * len(prefix)

    if analysis:
        analysis_ids = tokenizer.encode(f"{prompt.analysis_marker} {analysis.strip()}\n", add_special_tokens=False)
        analysis_ids = analysis_ids[: prompt.max_analysis_tokens]
        ids += analysis_ids
        kinds += [SPAN_ANALYSIS] * len(analysis_ids)

    name_ids = tokenizer.encode(f"{prompt.name_marker} {name}", add_special_tokens=False)
    name_ids = name_ids[: prompt.max_name_tokens] + [tokenizer.eos_token_id]
    ids += name_ids
    kinds += [SPAN_NAME] * len(name_ids)
    return EncodedTarget(input_ids=ids, span_kinds=kinds)


MAX_NAME_CHARS = 64


def sanitize_identifier(text: str) -> str | None:
    """Turn free text into a C identifier of at most MAX_NAME_CHARS characters (None when nothing is left)."""
    candidate = _INVALID_IDENTIFIER_CHARS.sub("_", text.strip()[: 4 * MAX_NAME_CHARS])
    candidate = _REPEATED_UNDERSCORES.sub("_", candidate).strip("_")
    if not candidate:
        return None
    if candidate[0].isdigit():
        candidate = "f_" + candidate
    return candidate[:MAX_NAME_CHARS].rstrip("_")


def parse_output(text: str, prompt: PromptConfig) -> ParsedOutput:
    """Split generated text into analysis and name; the name is made a valid identifier."""
    marker = prompt.name_marker
    position = text.rfind(marker)
    if position < 0:
        # No marker: the decoder went straight to the name, or ran out of tokens in the analysis.
        analysis, name_text = "", text
    else:
        analysis, name_text = text[:position], text[position + len(marker):]

    analysis = analysis.strip()
    if analysis.startswith(prompt.analysis_marker):
        analysis = analysis[len(prompt.analysis_marker):].strip()
    first_line = name_text.strip().split("\n", 1)[0] if name_text.strip() else ""
    first_word = first_line.split()[0] if first_line.split() else ""
    return ParsedOutput(name=sanitize_identifier(first_word), analysis=analysis, raw_text=text)
