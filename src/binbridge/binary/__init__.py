"""Binary analysis: turn x86-64 ELF files and static archives into per-function normalised assembly.

``iter_functions`` is the entry point for training data and inference alike,
so that both see one normalisation (see normalize.py for the rules).
"""

from binbridge.binary.errors import (
    ArchiveFormatError,
    BinaryFormatError,
    CorruptSectionError,
    NotELFError,
    TruncatedFileError,
    UnsupportedArchitectureError,
)
from binbridge.binary.extract import (
    LazyReadOnlyStrings,
    describe_binary,
    find_function,
    function_names,
    iter_function_runs,
    iter_functions,
    read_only_strings,
)
from binbridge.binary.records import BinaryInfo, ExtractedFunction

__all__ = [
    "ArchiveFormatError",
    "BinaryFormatError",
    "BinaryInfo",
    "CorruptSectionError",
    "ExtractedFunction",
    "LazyReadOnlyStrings",
    "NotELFError",
    "TruncatedFileError",
    "UnsupportedArchitectureError",
    "describe_binary",
    "find_function",
    "function_names",
    "iter_function_runs",
    "iter_functions",
    "normalize_assembly_text",
    "read_only_strings",
]


def __getattr__(name: str) -> object:
    # The text normaliser and its regexes load on first use: extraction never needs them.
    if name == "normalize_assembly_text":
        from binbridge.binary.text import normalize_assembly_text

        return normalize_assembly_text
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
