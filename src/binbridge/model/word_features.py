"""Features of one function that survive stripping, for the name-word model.

The name-word model (``model.word_model``) reads a function as a bag of short
feature strings taken from its normalised assembly (``binary.normalize``):

* ``m:`` each mnemonic, and ``b:`` each pair of consecutive mnemonics;
* ``i:`` each import name at a call or reference (``<malloc>``), and ``iw:`` its words;
* ``s:`` each string the function references (first 40 characters), ``sw:`` its words,
  and ``sx:`` the camelCase and underscore parts of those words;
* ``c:`` each immediate constant above 8;
* ``n:``, ``nc:`` and ``nf:`` the instruction count (log scale), import calls and local calls;
* feature set 2 only: ``o:`` each instruction's shape, its mnemonic with operands reduced to
  kinds (``mov R,qwordptr[R+N]``: a register loaded from a field of a pointer).

Models trained before set 2 existed read set 1. Each model's config names its set, and the
namer reads the features of that set.

A feature string becomes a 32-bit id (CRC-32), so the model stores ids, not strings.
"""

from __future__ import annotations

import math
import re
import zlib

from binbridge.binary.space import STRING_PATTERN
from binbridge.evaluation.names import symlm_words

# Unlike binary.space.IMPORT_PATTERN, the name stops at "@", so memcpy@GLIBC_2.14 and memcpy share features.
_IMPORT = re.compile(r"<([^>@]+)")
_NUMBER = re.compile(r"\b(0x[0-9a-f]+|\d+)\b")
_LETTERS = re.compile(r"[A-Za-z]{2,}")

# Limits that keep one long string or function from flooding the bag.
MAX_STRING_PREFIX = 40
MAX_WORDS_PER_STRING = 12
MAX_COUNT_FEATURE = 10
SMALL_CONSTANT = 8

FEATURE_SETS = (1, 2)
LATEST_FEATURE_SET = 2

# Operand shapes: each operand part becomes a kind. General-purpose registers of every width, rip, and the
# SSE, AVX and mask registers are R. Other registers stay as written: fs and gs, so that the stack-protector
# load fs:[0x28] keeps its look, and MMX, x87 and control registers, as the shipped model was trained.
# Numbers become N, in-function jump targets L, imports I and strings S; FUNC, DATA and ADDR stay.
_SHAPE_STEPS = (
    (STRING_PATTERN, "S"),
    (re.compile(r"<[^<>]*>"), "I"),  # [^<>], not [^>]: a long run of "<" alone would take quadratic time
    (re.compile(r"\.L\d+\b"), "L"),
    (re.compile(r"\b(?:r(?:[abcd]x|[sd]i|[sb]p|8|9|1[0-5])[dwb]?|e(?:[abcd]x|[sd]i|[sb]p)|[abcd][xlh]"
                r"|(?:[sd]i|[sb]p)l?|[xyz]mm\d+|k[0-7]|rip)\b"), "R"),
    (re.compile(r"\b(?:0x[0-9a-f]+|\d+)\b"), "N"),
    (re.compile(r" "), ""),
)


def operand_shape(operands: str) -> str:
    """Reduce an instruction's operands to kinds: ``qword ptr [rbp - 0x18], rdi`` -> ``qwordptr[R-N],R``."""
    for pattern, kind in _SHAPE_STEPS:
        operands = pattern.sub(kind, operands)
    return operands


def function_features(assembly: str, feature_set: int = 1) -> list[str]:
    """Return the feature strings of one function's normalised assembly, with repeats."""
    lines = [line for line in assembly.split("\n") if line]
    features = [f"n:{min(int(math.log2(len(lines) + 1) * 2), 30)}"]
    previous = "^"
    import_calls = local_calls = 0
    for line in lines:
        mnemonic, _, operands = line.partition(" ")
        features.append("m:" + mnemonic)
        if feature_set >= 2:
            features.append(f"o:{mnemonic} {operand_shape(operands)}".rstrip())
        features.append(f"b:{previous}_{mnemonic}")
        previous = mnemonic
        is_call = mnemonic in ("call", "jmp")
        for name in _IMPORT.findall(operands):
            features.append("i:" + name)
            features.extend("iw:" + word for word in symlm_words(name))
            import_calls += is_call
        if is_call and "FUNC" in operands:
            local_calls += 1
        for text in STRING_PATTERN.findall(operands):
            features.extend(_string_features(text))
        # NOTE: a versioned import (<memcpy@GLIBC_2.14>) also gives c:14; the shipped model was trained with it.
        for number in _NUMBER.findall(STRING_PATTERN.sub("", operands)):
            value = int(number, 16) if number.startswith("0x") else int(number)
            if value > SMALL_CONSTANT:
                features.append("c:" + number)
    features.append(f"nc:{min(import_calls, MAX_COUNT_FEATURE)}")
    features.append(f"nf:{min(local_calls, MAX_COUNT_FEATURE)}")
    return features


def _string_features(text: str) -> list[str]:
    features = ["s:" + text[:MAX_STRING_PREFIX]]
    for word in _LETTERS.findall(text)[:MAX_WORDS_PER_STRING]:
        features.append("sw:" + word.lower())
        features.extend("sx:" + part for part in symlm_words(word))
    return features


def feature_id(feature: str) -> int:
    """Return the 32-bit id under which the model stores ``feature``."""
    return zlib.crc32(feature.encode("utf-8", "surrogatepass"))


def function_feature_ids(assembly: str, feature_set: int = 1) -> list[int]:
    """Return the feature ids of one function, with repeats (the model averages over them)."""
    return [feature_id(feature) for feature in function_features(assembly, feature_set)]
